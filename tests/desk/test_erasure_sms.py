"""An erasure reaches the SMS about a case too: they name its customer and quote the problem."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

from smartmail.app import open_app
from smartmail.desk import erasure
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import SmsOutbox
from tests.conftest import MemoryTransport, settings_under
from tests.rules.on_call_rules import ON_CALL_RULES

NIGHT = datetime(2026, 12, 5, 22, 40, tzinfo=ZoneInfo("Europe/Stockholm")).astimezone(UTC)


def test_erasing_a_person_drops_the_queued_sms_about_their_case_and_blanks_its_text(
    tmp_path: Path,
) -> None:
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(ON_CALL_RULES, encoding="utf-8")
    app = open_app(settings_under(tmp_path, rules_path), MemoryTransport())
    try:
        msg = EmailMessage()
        msg["From"] = "Eva Lind <eva@kund.example>"
        msg["To"] = "felanmalan@bostad.example"
        msg["Subject"] = "Stopp i avloppet"
        msg.set_content("Stopp i avloppet i diskmaskinen, portkod 4711.")
        envelope = Envelope("smtp", "eva@kund.example", ())
        assert app.pipeline.process(msg.as_bytes(), envelope, NIGHT).case_number == 1
        with transaction(app.engine) as session:
            [paged] = session.exec(select(SmsOutbox)).all()
            assert "Eva Lind" in paged.text
            assert paged.status == "queued"
            assert "4711" not in paged.text  # staff read door codes masked, by SMS too
            erasure.erase_person(session, "eva@kund.example", NIGHT, erasure.Unlinked())
        with transaction(app.engine) as session:
            [erased] = session.exec(select(SmsOutbox)).all()
        assert erased.status == "dropped"
        assert "Eva" not in erased.text
        assert "diskmaskinen" not in erased.text
    finally:
        app.engine.dispose()
