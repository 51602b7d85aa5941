"""The desk's habits on a real PostgreSQL: labels and watchers added and removed, a case
opened for a caller, the channel counted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smartmail.app import App
from smartmail.clock import reports
from smartmail.desk import views
from smartmail.mail.tokens import reply_address
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Case
from tests.e2e.postgres import pg_app, postgres_server, postgres_url  # noqa: F401  (fixtures)
from tests.pipeline.test_on_behalf import DESK, KALLE, staff_mail

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def steer(app: App, number: int, body: str) -> str:
    raw = staff_mail(app, body).replace(
        reply_address(DESK, 0, KALLE, app.settings.secret).encode(),
        reply_address(DESK, number, KALLE, app.settings.secret).encode(),
    )
    to = reply_address(DESK, number, KALLE, app.settings.secret)
    return app.pipeline.process(raw, Envelope("smtp", KALLE, (to,)), NOW).kind


def test_labels_watchers_and_a_phone_case_on_postgresql(pg_app: App) -> None:  # noqa: F811
    opened = steer(pg_app, 0, "#kund eva@kund.example\n#etikett +a +b\nStopp i avloppet.")
    assert opened == "new_case"
    steer(pg_app, 1, "#etikett -a +c\n#bevaka lisa@bostad.example\n#bevaka fastighetsskotare")
    steer(pg_app, 1, "#avbevaka lisa@bostad.example")
    with transaction(pg_app.engine) as session:
        case = session.get(Case, 1)
        assert case is not None
        shown = views.case_summary(session, case)
        figures = reports.compute(session, NOW.replace(hour=0), NOW.replace(hour=23), NOW)
    assert (shown["channel"], shown["labels"]) == ("phone", ["b", "c"])
    assert shown["watchers"] == [KALLE]
    assert figures.per_channel["phone"] == 1
