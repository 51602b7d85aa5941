"""Bounces of our own mail on the shared engine (PostgreSQL): suppression, once-only notice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartmail.app import App
from smartmail.desk import cases, suppressions
from smartmail.store.db import transaction
from tests.e2e.postgres import pg_app, postgres_server, postgres_url  # noqa: F401  (fixtures)
from tests.mail import bounce_mails
from tests.pipeline.test_bounces import (
    CUSTOMER,
    LATER,
    OWNER,
    ack_of_case_1,
    bounce,
    customer_mail,
    events,
    intake,
    templates_to,
)

pytestmark = pytest.mark.e2e


def test_a_bounce_suppresses_and_tells_the_owner_once(pg_app: App) -> None:  # noqa: F811
    app = pg_app
    intake(app, customer_mail())
    verp, ack_id = ack_of_case_1(app)
    for raw in (
        bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER),
        bounce_mails.qmail_text(to=verp, recipient=CUSTOMER, returned_id=ack_id),
    ):
        assert bounce(app, raw, verp).kind == "bounce"
    assert len(events(app, 1, "delivery_failed")) == 2
    assert templates_to(app, OWNER).count("bounce") == 1
    intake(app, customer_mail("Ingen värme"), LATER)
    assert templates_to(app, CUSTOMER) == ["ack"]
    assert len(events(app, 2, "mail_skipped")) == 1
    with transaction(app.engine) as session:
        until = suppressions.suppressed_until(session, CUSTOMER, LATER)
        assert until == LATER + timedelta(days=30)
        assert cases.lift_suppression(session, CUSTOMER, LATER)
    intake(app, customer_mail("Trasig dörr"), LATER)
    assert templates_to(app, CUSTOMER) == ["ack", "ack"]
