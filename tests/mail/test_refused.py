"""A mail whose header would not be the one written is refused, recorded, and not queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from smartmail.app import App
from smartmail.errors import MailRefused
from smartmail.mail import compose
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Case, Event, Message, Outbox

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DESK = "felanmalan@bostad.example"


def mail() -> compose.Composed:
    return compose.compose(
        compose.Identity(DESK),
        to=["eva@kund.example"],
        rendered=compose.Rendered("Hej", "x"),
        now=NOW,
    )


@pytest.mark.parametrize(
    "value",
    [
        "Hej\r\nX-Evil: 1",
        "Hej\nBcc: evil@evil.example",
        "Hej\r\n\r\nKlicka har",
        "Hej\r\n\r\nKlicka här",
        "Hej\n \nX-Evil: 1",  # a fold of blanks only: some readers end the header there
        "Hej\rX-Evil: 1",
    ],
)
def test_a_header_that_breaks_into_lines_of_its_own_is_refused(value: str) -> None:
    msg = mail()
    del msg["Subject"]
    msg.set_raw("Subject", value)  # past compose's own encoding and the policy's check
    with pytest.raises(MailRefused):
        compose.checked_wire(msg)


def test_a_sound_mail_with_an_attachment_passes() -> None:
    msg = mail()
    msg.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="kvitto.pdf")
    assert compose.checked_wire(msg) == compose.wire_bytes(msg)


def test_a_refused_mail_is_an_event_on_its_case_and_no_outbox_row(app: App) -> None:
    raw = b"From: eva@kund.example\r\nTo: felanmalan@bostad.example\r\nSubject: Stopp\r\n\r\nx\r\n"
    app.pipeline.process(raw, Envelope("smtp", "eva@kund.example", (DESK,)), NOW)
    with transaction(app.engine) as session:
        case = session.exec(select(Case)).one()
        before = len(session.exec(select(Outbox)).all())
        msg = compose.compose(
            compose.Identity(DESK),
            to=["eva@kund.example"],
            rendered=compose.Rendered("Hej", "x"),
            now=NOW,
        )
        msg.set_raw("X-Note", "a\r\nBcc: evil@evil.example")
        with compose.refusing(session, case, to="eva@kund.example", template="answer", now=NOW):
            compose.queue(session, msg, case=case, now=NOW, template="answer")
        with compose.refusing(session, case, to='"a,b"@kund.example', template="ack", now=NOW):
            compose.compose(
                compose.Identity(DESK),
                to=['"a,b"@kund.example'],
                rendered=compose.Rendered("Hej", "x"),
                now=NOW,
            )
    with transaction(app.engine) as session:
        events = session.exec(select(Event).where(Event.kind == "mail_refused")).all()
        assert len(session.exec(select(Outbox)).all()) == before
        assert session.exec(select(Message).where(Message.template == "answer")).all() == []
    details = [json.loads(e.detail) for e in events]
    assert [d["template"] for d in details] == ["answer", "ack"]
    assert details[0]["reason"] == "a line end in a header field"
    assert details[1]["to"] == '"a,b"@kund.example'
