"""Senders on PostgreSQL: a row stays locked while it is sent, so another sender passes it
by and sends the rest; a sender that dies mid-send leaves the row to the next one at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlmodel import col, select

from smartmail.app import App
from smartmail.outbound.sender import deliver_due
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Outbox
from tests.conftest import MemoryTransport
from tests.e2e.postgres import pg_app, postgres_server, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DESK = "felanmalan@bostad.example"


def cases_in(app: App, count: int) -> None:
    for n in range(count):
        msg = EmailMessage()
        sender = f"kund{n}@kund.example"
        msg["From"], msg["To"], msg["Subject"] = sender, DESK, f"Fråga {n}"
        msg["Message-ID"] = make_msgid(domain="kund.example")
        msg.set_content("Hej!")
        app.pipeline.process(msg.as_bytes(), Envelope("smtp", sender, (DESK,)), NOW)


def rows(app: App) -> list[Outbox]:
    with transaction(app.engine) as session:
        return list(session.exec(select(Outbox).order_by(col(Outbox.id))).all())


class Stuck(MemoryTransport):
    """A relay that takes its time over the first mail: until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = threading.Event()
        self.go_on = threading.Event()

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        if not self.sent:
            self.sending.set()
            assert self.go_on.wait(30)
        super().send(mail_from, rcpt_to, body)


def test_a_row_being_sent_is_passed_by_and_every_row_goes_once(pg_app: App) -> None:  # noqa: F811
    cases_in(pg_app, 3)  # six mails
    slow = Stuck()
    first = threading.Thread(target=deliver_due, args=(pg_app.engine, slow, NOW, 1))
    first.start()
    assert slow.sending.wait(30)
    other = MemoryTransport()
    assert deliver_due(pg_app.engine, other, NOW).sent == 5  # all but the one held
    slow.go_on.set()
    first.join(30)
    bodies = [body for _f, _t, body in slow.sent + other.sent]
    assert len(bodies) == len(set(bodies)) == 6
    assert {(row.status, row.attempts) for row in rows(pg_app)} == {("sent", 1)}


class Killed(BaseException):
    """The sender dying mid-send: its transaction ends without a commit."""


class Dying(MemoryTransport):
    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        raise Killed


def test_a_sender_dying_mid_send_leaves_the_row_to_the_next_at_once(pg_app: App) -> None:  # noqa: F811
    cases_in(pg_app, 1)
    with pytest.raises(Killed):
        deliver_due(pg_app.engine, Dying(), NOW)
    assert {(row.status, row.attempts) for row in rows(pg_app)} == {("queued", 0)}
    assert deliver_due(pg_app.engine, MemoryTransport(), NOW).sent == 2
