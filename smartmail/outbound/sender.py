"""Delivers the outbox, one mail at a time, each marked in a commit of its own.

A mail the relay accepted is marked sent at once, so a crash repeats at most the one mail
in flight, and nothing is leased ahead: a sender started after a crash sends what is
queued at once. On SQLite the mark is not flushed to disk (`transaction(flushed=False)`):
a power cut before the next flushed commit sends those mails again.

Two senders never send the same row:

- PostgreSQL: the row stays locked (`FOR UPDATE SKIP LOCKED`) in the transaction that
  sends it and marks it; a racing sender skips it, and a sender that dies loses its
  connection and with it the lock.
- SQLite: the write lock cannot be held while a relay answers (intake would wait), so one
  sender at a time works, holding an advisory lock on `<database>-sender` next to the
  database; the kernel releases it when the process dies. Another sender finds it taken
  and leaves the mail to the one at work.

Temporary failures back off; a recipient's permanent refusal (5xx) is recorded on the
case and its owner told (`tell`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, select, update
from sqlmodel import Session, col

from smartmail.desk import cases
from smartmail.errors import PermanentFailure, RelayTrouble, TemporaryFailure
from smartmail.outbound.relay import (
    FileTransport,
    SmtpTransport,
    Transport,
    make_transport,
)
from smartmail.store import prepared
from smartmail.store.db import reading, transaction
from smartmail.store.models import Case, Message, Outbox, UTCDateTime

__all__ = [
    "DeliveryReport",
    "FileTransport",
    "SmtpTransport",
    "Transport",
    "backoff",
    "deliver_due",
    "make_transport",
]

log = logging.getLogger(__name__)

BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
BACKOFF_CAP = timedelta(hours=4)
GIVE_UP_AFTER = timedelta(days=3)

# Told of a mail about `case` that failed for good: (session, case, the mail, why, now).
Tell = Callable[[Session, Case, Message, str, datetime], None]


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Claimed:
    id: int
    mail_from: str
    rcpt_to: list[str]
    body: bytes


@dataclass(frozen=True)
class Tried:
    """What became of one try: no error when it went out."""

    error: str | None = None
    permanent: bool = False
    relay: bool = False  # the relay's trouble, not this mail's (logged by the transport)


def deliver_due(
    engine: Engine,
    transport: Transport,
    now: datetime,
    limit: int = 200,
    tell: Tell | None = None,
) -> DeliveryReport:
    """Send every queued mail whose time has come (up to `limit`); returns what happened.

    Nothing is sent when another sender is at work on this SQLite database: its pass
    takes the mail."""
    report = DeliveryReport()
    with sender_turn(engine) as ours:
        if not ours:
            return report
        send = _send_locked if engine.dialect.name == "postgresql" else _send_alone
        send(engine, transport, now, limit, report, tell)
    return report


def _send_locked(
    engine: Engine,
    transport: Transport,
    now: datetime,
    limit: int,
    report: DeliveryReport,
    tell: Tell | None,
) -> None:
    """Due rows one after the other, each locked while it is sent and marked, all in one
    transaction."""
    for _ in range(limit):
        with transaction(engine) as session:
            claimed = _next_due(session, now)
            if claimed is None:
                return
            _record(session, claimed, _attempt(transport, claimed), now, report, tell)


def _send_alone(
    engine: Engine,
    transport: Transport,
    now: datetime,
    limit: int,
    report: DeliveryReport,
    tell: Tell | None,
) -> None:
    """Due rows one after the other, each read, sent, then marked: no transaction open
    while the relay answers. Only the sender holding the sender's turn gets here, so
    reading a row takes no write lock, and the next row is read in the transaction that
    marks the last: intake does not wait for either."""
    with reading(engine) as session:
        claimed = _next_due(session, now)
    for _ in range(limit):
        if claimed is None:
            return
        tried = _attempt(transport, claimed)
        # Not flushed to disk: a flush held SQLite's write lock for milliseconds a mail, and
        # intake waited; a power cut before the next flushed commit sends this mail again.
        with transaction(engine, flushed=False) as session:
            _record(session, claimed, tried, now, report, tell)
            claimed = _next_due(session, now)


@contextlib.contextmanager
def sender_turn(engine: Engine, name: str = "sender") -> Iterator[bool]:
    """Whether this sender may send now: on SQLite only while it holds the file lock next to
    the database (PostgreSQL locks each row instead; a database in memory has no other)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield True
        return
    fd = os.open(f"{database}-{name}", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # and with it the lock


def _next_due(session: Session, now: datetime) -> Claimed | None:
    """The oldest due row no other sender holds (PostgreSQL: locked until the commit)."""
    rows = prepared.rows(session, _DUE, now=now)
    if not rows:
        return None
    key, mail_from, rcpt_to, body = rows[0]
    return Claimed(key, mail_from, rcpt_to.split(","), bytes(body))


_DUE = (
    select(col(Outbox.id), col(Outbox.mail_from), col(Outbox.rcpt_to), col(Outbox.body))
    .where(col(Outbox.status) == "queued", col(Outbox.next_attempt_at) <= bindparam("now"))
    .order_by(col(Outbox.id))
    .limit(1)
    .with_for_update(skip_locked=True)
)


def _attempt(transport: Transport, claimed: Claimed) -> Tried:
    try:
        transport.send(claimed.mail_from, claimed.rcpt_to, claimed.body)
    except PermanentFailure as exc:
        return Tried(str(exc), permanent=True)
    except RelayTrouble as exc:
        return Tried(str(exc), relay=True)
    except TemporaryFailure as exc:
        return Tried(str(exc))
    except Exception as exc:  # a bug or an odd mail must not stop the mail behind it
        log.exception("outbox %s: sending raised", claimed.id)
        return Tried(f"{type(exc).__name__}: {exc}")
    return Tried()


def _record(
    session: Session,
    claimed: Claimed,
    tried: Tried,
    now: datetime,
    report: DeliveryReport,
    tell: Tell | None,
) -> None:
    if tried.error is None:
        report.sent += prepared.change(session, _SENT, row=claimed.id, at=now)
        return
    row = session.get(Outbox, claimed.id)
    assert row is not None
    if row.status != "queued":
        return
    row.attempts += 1
    row.last_error = tried.error
    if tried.permanent or now - row.created_at >= GIVE_UP_AFTER:
        row.status = "failed"
        report.failed += 1
        log.error("outbox %s to %s failed for good: %s", claimed.id, row.rcpt_to, tried.error)
        _tell_case(session, row, tried.error, now, tell)
        return
    row.next_attempt_at = now + backoff(row.attempts)
    report.retried += 1
    # The relay's own trouble was logged once by the transport; this is the same for every mail.
    log.log(
        logging.DEBUG if tried.relay else logging.WARNING,
        "outbox %s to %s: %s; retry at %s",
        claimed.id,
        row.rcpt_to,
        tried.error,
        row.next_attempt_at.isoformat(),
    )


_SENT = (
    update(Outbox)
    .where(col(Outbox.id) == bindparam("row"), col(Outbox.status) == "queued")
    .values(
        status="sent",
        sent_at=bindparam("at", type_=UTCDateTime()),
        attempts=col(Outbox.attempts) + 1,
        last_error="",
    )
)


def _tell_case(session: Session, row: Outbox, error: str, now: datetime, tell: Tell | None) -> None:
    if row.message_pk is None:
        return
    message = session.get(Message, row.message_pk)
    case = session.get(Case, message.case_id) if message and message.case_id else None
    if message is None or case is None:
        return
    cases.note_delivery_failure(session, case, row.rcpt_to, error, now)
    if tell is not None:
        tell(session, case, message, error, now)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try."""
    if attempts <= len(BACKOFF):
        return BACKOFF[max(attempts, 1) - 1]
    return BACKOFF_CAP
