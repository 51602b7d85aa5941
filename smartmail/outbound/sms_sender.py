"""Delivers the SMS outbox: what is queued to one number goes as one SMS, exactly once.

As the mail sender does (outbound/sender.py): on PostgreSQL the rows stay locked (`FOR
UPDATE`, their number by an advisory lock) in the transaction that sends and marks them;
on SQLite one SMS sender works at a time, holding a lock on the file
`<database>-sms-sender`, and no transaction is open while the gateway answers. A sent SMS
is marked in a commit of its own, so a crash repeats at most the one in flight.

Rows queued to one number when its first is due go as one SMS listing their cases (a burst
becomes one SMS); at most `sms_per_hour` SMS go to one person in an hour, the rest wait.
Temporary failures back off as mail does; a permanent one (an invalid number, any 4xx) is
recorded on each case the SMS was about.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, text
from sqlmodel import Session, col, select

from smartmail.desk import cases
from smartmail.errors import PermanentFailure, TemporaryFailure
from smartmail.outbound.sender import GIVE_UP_AFTER, backoff, sender_turn
from smartmail.outbound.sms import SmsProvider
from smartmail.store import prepared
from smartmail.store.db import reading, transaction
from smartmail.store.models import Case, SmsOutbox

log = logging.getLogger(__name__)

# The text of one SMS for several rows to one person (session, rows).
Collapse = Callable[[Session, Sequence[SmsOutbox]], str]
HOUR = timedelta(hours=1)


@dataclass
class SmsReport:
    sent: int = 0  # SMS sent (one may carry several rows)
    retried: int = 0
    failed: int = 0
    held: int = 0  # rows waiting for the person's hourly cap


@dataclass(frozen=True)
class Batch:
    number: str
    ids: tuple[int, ...]
    text: str


def deliver_sms_due(
    engine: Engine,
    provider: SmsProvider,
    now: datetime,
    collapse: Collapse,
    per_hour: int = 6,
    limit: int = 100,
) -> SmsReport:
    """Send every SMS whose time has come (up to `limit`); returns what happened."""
    report = SmsReport()
    if not _any_due(engine, now):
        return report
    with sender_turn(engine, "sms-sender") as ours:  # beside the mail sender's own
        if not ours:
            return report
        locked = engine.dialect.name == "postgresql"
        for _ in range(limit):
            if not _one(engine, provider, now, collapse, per_hour, report, locked):
                break
    return report


def _any_due(engine: Engine, now: datetime) -> bool:
    """Whether an SMS is due, looked for without the write lock: the sender looks after
    every mail stored, and most desks have no SMS waiting, where a pass took the lock that
    intake waits for."""
    with reading(engine) as session:
        return prepared.first(session, _DUE, now=now) is not None


_DUE = (
    select(col(SmsOutbox.id))
    .where(col(SmsOutbox.status) == "queued", col(SmsOutbox.next_attempt_at) <= bindparam("now"))
    .limit(1)
)


def _one(
    engine: Engine,
    provider: SmsProvider,
    now: datetime,
    collapse: Collapse,
    per_hour: int,
    report: SmsReport,
    locked: bool,
) -> bool:
    """The next number with an SMS due: sent and marked. False when none is due."""
    with transaction(engine) as session:
        batch = _next_batch(session, now, collapse, per_hour, report)
        if batch is None:
            return False
        if locked:  # PostgreSQL: the rows stay locked while the gateway answers
            _record(session, batch, _attempt(provider, batch), now, report)
            return True
    tried = _attempt(provider, batch)
    with transaction(engine) as session:
        _record(session, batch, tried, now, report)
    return True


def _next_batch(
    session: Session, now: datetime, collapse: Collapse, per_hour: int, report: SmsReport
) -> Batch | None:
    """Every row queued to the number of the oldest due one. On PostgreSQL a sender first
    takes that number's advisory lock (until its commit): a number another sender is at
    work on is left to it, so that a burst is never split between two. A number over its
    hourly cap waits (its rows are moved on) and the next is looked at."""
    postgres = session.connection().dialect.name == "postgresql"
    passed: set[str] = set()
    while True:
        number = session.exec(
            select(SmsOutbox.to_number)
            .where(
                col(SmsOutbox.status) == "queued",
                col(SmsOutbox.next_attempt_at) <= now,
                col(SmsOutbox.to_number).not_in(passed),
            )
            .order_by(col(SmsOutbox.id))
            .limit(1)
        ).first()
        if number is None:
            return None
        passed.add(number)
        if postgres and not session.execute(_NUMBER_LOCK, {"number": number}).scalar():
            continue
        rows = session.exec(
            select(SmsOutbox)
            .where(col(SmsOutbox.status) == "queued", SmsOutbox.to_number == number)
            .order_by(col(SmsOutbox.id))
            .with_for_update()
        ).all()
        if not rows:  # sent by another sender meanwhile
            continue
        free_at = _cap_frees_at(session, number, now, per_hour)
        if free_at is None:
            ids = tuple(row.id for row in rows if row.id is not None)
            return Batch(number, ids, collapse(session, rows))
        for row in rows:
            row.next_attempt_at = free_at
        report.held += len(rows)
        session.flush()


_NUMBER_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext(:number))")


def _cap_frees_at(session: Session, number: str, now: datetime, per_hour: int) -> datetime | None:
    """None while fewer than `per_hour` SMS went to `number` in the last hour; else when
    the oldest of them is an hour old."""
    sent = session.exec(
        select(SmsOutbox.sent_at)
        .where(
            SmsOutbox.to_number == number,
            SmsOutbox.status == "sent",
            col(SmsOutbox.sent_at) > now - HOUR,
        )
        .group_by(col(SmsOutbox.sent_at))
        .order_by(col(SmsOutbox.sent_at))
    ).all()
    times = [moment for moment in sent if moment is not None]
    if len(times) < per_hour:
        return None
    return times[-per_hour] + HOUR


@dataclass(frozen=True)
class Tried:
    error: str | None = None
    permanent: bool = False


def _attempt(provider: SmsProvider, batch: Batch) -> Tried:
    try:
        provider.send(batch.number, batch.text)
    except PermanentFailure as exc:
        return Tried(str(exc), permanent=True)
    except TemporaryFailure as exc:
        return Tried(str(exc))
    except Exception as exc:  # a bug must not stop the SMS behind it
        log.exception("SMS to %s: sending raised", batch.number)
        return Tried(f"{type(exc).__name__}: {exc}")
    return Tried()


def _record(session: Session, batch: Batch, tried: Tried, now: datetime, report: SmsReport) -> None:
    rows = [row for key in batch.ids if (row := session.get(SmsOutbox, key)) is not None]
    rows = [row for row in rows if row.status == "queued"]
    for row in rows:
        row.attempts += 1
        row.last_error = tried.error or ""
    if tried.error is None:
        for row in rows:
            row.status, row.sent_at = "sent", now
        report.sent += 1
        return
    if tried.permanent or any(now - row.created_at >= GIVE_UP_AFTER for row in rows):
        _failed(session, rows, tried.error, now)
        report.failed += 1
        return
    for row in rows:
        row.next_attempt_at = now + backoff(row.attempts)
    report.retried += 1
    log.warning("SMS to %s: %s; retried later", batch.number, tried.error)


def _failed(session: Session, rows: list[SmsOutbox], error: str, now: datetime) -> None:
    log.error("SMS to %s failed for good: %s", rows[0].to_number if rows else "-", error)
    for row in rows:
        row.status = "failed"
        case = session.get(Case, row.case_id) if row.case_id is not None else None
        if case is not None:
            cases.note_sms_failure(session, case, row.to_number, error, now)
