"""The outbox sender: each mail marked sent in a commit of its own, nothing leased ahead,
one sender at a time on an SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlmodel import col, select

from smartmail.app import App
from smartmail.errors import TemporaryFailure
from smartmail.outbound.sender import deliver_due
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Outbox
from tests.conftest import MemoryTransport

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DESK = "felanmalan@bostad.example"


class Killed(BaseException):
    """The process dying: nothing after it runs, no `except Exception` catches it."""


class DyingTransport:
    """The relay takes mail; the process dies right after the relay took the `die_at`-th."""

    def __init__(self, die_at: int) -> None:
        self.die_at = die_at
        self.sent: list[bytes] = []

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        self.sent.append(body)
        if len(self.sent) == self.die_at:
            raise Killed


def cases_in(app: App, count: int) -> None:
    for n in range(count):
        msg = EmailMessage()
        sender = f"kund{n}@kund.example"
        msg["From"], msg["To"], msg["Subject"] = sender, DESK, f"Fråga {n}"
        msg["Message-ID"] = make_msgid(domain="kund.example")
        msg.set_content("Hej!")
        outcome = app.pipeline.process(msg.as_bytes(), Envelope("smtp", sender, (DESK,)), NOW)
        assert outcome.kind == "new_case"


def rows(app: App) -> list[Outbox]:
    with transaction(app.engine) as session:
        return list(session.exec(select(Outbox).order_by(col(Outbox.id))).all())


def test_a_crash_repeats_only_the_mail_in_flight_and_holds_nothing_back(app: App) -> None:
    cases_in(app, 4)  # 8 mails: an acknowledgement and the owner's notice each
    dying = DyingTransport(die_at=3)
    with pytest.raises(Killed):
        deliver_due(app.engine, dying, NOW)
    assert [row.status for row in rows(app)] == ["sent", "sent"] + ["queued"] * 6
    assert all(row.next_attempt_at <= NOW for row in rows(app)[2:])  # no lease
    restarted = MemoryTransport()
    assert deliver_due(app.engine, restarted, NOW).sent == 6  # at once, not minutes later
    bodies = dying.sent + [body for _from, _to, body in restarted.sent]
    assert len(bodies) == 9
    assert len(set(bodies)) == 8
    assert {(row.status, row.attempts) for row in rows(app)} == {("sent", 1)}


def test_a_second_sender_on_the_same_sqlite_database_leaves_the_mail_to_the_first(
    app: App,
) -> None:
    cases_in(app, 2)
    second: list[int] = []

    class Racing(MemoryTransport):
        def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
            # Another sender (say `smartmail ingest`) starts while this one is at work.
            second.append(deliver_due(app.engine, MemoryTransport(), NOW).sent)
            super().send(mail_from, rcpt_to, body)

    first = Racing()
    assert deliver_due(app.engine, first, NOW).sent == 4
    assert second == [0, 0, 0, 0]
    assert len(first.sent) == 4


def test_the_turn_is_given_back_after_each_pass_even_when_it_raised(app: App) -> None:
    cases_in(app, 1)
    with pytest.raises(Killed):
        deliver_due(app.engine, DyingTransport(die_at=1), NOW)
    assert deliver_due(app.engine, MemoryTransport(), NOW).sent == 2


def test_a_temporary_failure_backs_off_that_mail_only(app: App) -> None:
    cases_in(app, 2)

    class RefusingOne(MemoryTransport):
        def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
            if rcpt_to == ["kund0@kund.example"]:
                raise TemporaryFailure("451 greylisted")
            super().send(mail_from, rcpt_to, body)

    report = deliver_due(app.engine, RefusingOne(), NOW)
    assert (report.sent, report.retried) == (3, 1)
    (waiting,) = [row for row in rows(app) if row.status == "queued"]
    assert waiting.next_attempt_at == NOW + timedelta(minutes=1)
    assert (waiting.attempts, waiting.last_error) == (1, "451 greylisted")
