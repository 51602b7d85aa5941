"""Delivers the outbox: over an SMTP relay, or as .eml files when none is set.

Rows are claimed a few at a time with a lease (their next attempt moved ahead) before
sending, so two senders never send the same row at once, and a sender that dies mid-send
leaves them to be retried. The results of a batch are recorded together right after it,
in the transaction that leases the next batch, so a crash resends at most one batch.
Temporary failures back off; permanent ones (5xx) are recorded and not retried.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam, select, update
from sqlmodel import Session, col

from smartmail.config import Relay
from smartmail.desk import cases
from smartmail.errors import PermanentFailure, TemporaryFailure
from smartmail.store import prepared
from smartmail.store.db import transaction
from smartmail.store.models import Case, Message, Outbox, UTCDateTime, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
# Rows leased at once: even if every one of them hits the relay's timeouts, the last is
# tried well within the lease. One transaction leases them all (fewer database writes).
CLAIM_BATCH = 8
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
BACKOFF_CAP = timedelta(hours=4)
GIVE_UP_AFTER = timedelta(days=3)


class Transport(Protocol):
    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        """Deliver or raise TemporaryFailure / PermanentFailure."""


class FileTransport:
    """Writes each mail to `<dir>/<outbox id>.eml`: the embedded default, and handy to read."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.counter = 0

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
        self.counter += 1
        path = self.directory / f"{stamp}-{self.counter:04d}.eml"
        envelope = f"X-Envelope-From: <{mail_from}>\r\nX-Envelope-To: {', '.join(rcpt_to)}\r\n"
        path.write_bytes(envelope.encode() + body)


class SmtpTransport:
    """Relays through an SMTP server (STARTTLS when offered, implicit TLS for smtps://)."""

    def __init__(self, relay: Relay, timeout: float = 30.0) -> None:
        self.relay = relay
        self.timeout = timeout

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        where = f"relay {self.relay.host}:{self.relay.port}"
        try:
            smtp = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            # Connection, TLS or login trouble is ours to fix, never the recipient's fault.
            raise TemporaryFailure(f"{where}: {exc}") from exc
        try:
            refused = smtp.sendmail(mail_from, rcpt_to, body)
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code == 552:  # too large for the relay: it will never go
                raise PermanentFailure(f"{where}: 552 {exc.smtp_error!r}") from exc
            raise TemporaryFailure(f"{where} refused our sender: {exc.smtp_code}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            _raise_for_code(code, text)
        except smtplib.SMTPResponseException as exc:
            _raise_for_code(exc.smtp_code, exc.smtp_error)
        except UnicodeError as exc:  # a non-ASCII address the relay cannot take
            raise PermanentFailure(f"{where}: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"{where}: {exc}") from exc
        finally:
            _hang_up(smtp)
        if refused:
            code, text = next(iter(refused.values()))
            _raise_for_code(code, text)

    def _connect(self) -> smtplib.SMTP:
        host, port = self.relay.host, self.relay.port
        if self.relay.tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=self.timeout)
        else:
            smtp = smtplib.SMTP(host, port, timeout=self.timeout)
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
        if self.relay.username:
            smtp.login(self.relay.username, self.relay.password or "")
        return smtp


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT, ignoring its trouble: once the relay said 250 to DATA, the mail is its."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _raise_for_code(code: int, text: bytes | str) -> None:
    message = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if 500 <= code < 600:
        raise PermanentFailure(message)
    raise TemporaryFailure(message)


def make_transport(relay: Relay | None, sent_dir: Path) -> Transport:
    return SmtpTransport(relay) if relay else FileTransport(sent_dir)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int  # as leased: if it changed, someone else has the row now
    mail_from: str
    rcpt_to: list[str]
    body: bytes


def deliver_due(
    engine: Engine, transport: Transport, now: datetime, limit: int = 200
) -> DeliveryReport:
    """Send every queued mail whose time has come (up to `limit`); returns what happened."""
    report = DeliveryReport()
    tried = 0
    batch = _record_and_claim(engine, [], now, report, min(CLAIM_BATCH, limit))
    while batch:
        tries = [(claimed, *_attempt(transport, claimed)) for claimed in batch]
        tried += len(batch)
        batch = _record_and_claim(engine, tries, now, report, min(CLAIM_BATCH, limit - tried))
    return report


def _record_and_claim(
    engine: Engine,
    tries: list[tuple[Claimed, str | None, bool]],
    now: datetime,
    report: DeliveryReport,
    count: int,
) -> list[Claimed]:
    """Record what became of each (claimed, error, permanent) of the last batch and lease
    the next `count` rows, in one transaction: one commit a batch."""
    with transaction(engine) as session:
        for claimed, error, permanent in tries:
            _record_one(session, claimed, error, permanent, now, report)
        return _claim(session, now, count) if count > 0 else []


def _claim(session: Session, now: datetime, count: int) -> list[Claimed]:
    """Lease up to `count` due rows, oldest first, just before sending them."""
    # The lease runs from the real time: a long pass must not outlive its own leases.
    lease_until = max(now, utcnow()) + LEASE
    # Rows due while we hold the write lock (SQLite) or their row locks (PostgreSQL,
    # where a racing sender skips them): the UPDATE leases exactly those.
    rows = prepared.rows(session, _due(count), now=now)
    if not rows:
        return []
    ids = [row[0] for row in rows]
    lease = _lease(prepared.list_size(len(ids)))
    prepared.change(session, lease, until=lease_until, **prepared.list_values("id", ids))
    return [
        Claimed(key, attempts + 1, mail_from, rcpt_to.split(","), bytes(body))
        for key, attempts, mail_from, rcpt_to, body in rows
    ]


@functools.lru_cache(maxsize=16)
def _due(count: int) -> Any:
    return (
        select(
            col(Outbox.id),
            col(Outbox.attempts),
            col(Outbox.mail_from),
            col(Outbox.rcpt_to),
            col(Outbox.body),
        )
        .where(col(Outbox.status) == "queued", col(Outbox.next_attempt_at) <= bindparam("now"))
        .order_by(col(Outbox.id))
        .limit(count)
        .with_for_update(skip_locked=True)
    )


@functools.lru_cache(maxsize=16)
def _lease(size: int) -> Any:
    return (
        update(Outbox)
        .where(col(Outbox.id).in_(prepared.list_binds("id", size)))
        .values(
            next_attempt_at=bindparam("until", type_=UTCDateTime()),
            attempts=col(Outbox.attempts) + 1,
        )
    )


def _attempt(transport: Transport, claimed: Claimed) -> tuple[str | None, bool]:
    """(error, permanent) of one try; (None, False) when it went out."""
    try:
        transport.send(claimed.mail_from, claimed.rcpt_to, claimed.body)
    except PermanentFailure as exc:
        return str(exc), True
    except TemporaryFailure as exc:
        return str(exc), False
    except Exception as exc:  # a bug or an odd mail must not stop the mail behind it
        log.exception("outbox %s: sending raised", claimed.id)
        return f"{type(exc).__name__}: {exc}", False
    return None, False


def _record_one(
    session: Session,
    claimed: Claimed,
    error: str | None,
    permanent: bool,
    now: datetime,
    report: DeliveryReport,
) -> None:
    if error is None:
        # Only while the lease is ours: it may have run out and another sender have the row.
        report.sent += prepared.change(
            session, _SENT, row=claimed.id, leased=claimed.attempts, at=now
        )
        return
    row = session.get(Outbox, claimed.id)
    assert row is not None
    if row.attempts != claimed.attempts or row.status != "queued":
        return
    row.last_error = error
    if permanent or now - row.created_at >= GIVE_UP_AFTER:
        row.status = "failed"
        report.failed += 1
        log.error("outbox %s to %s failed for good: %s", claimed.id, row.rcpt_to, error)
        _tell_case(session, row, error, now)
    else:
        row.next_attempt_at = now + backoff(row.attempts)
        report.retried += 1
        log.warning(
            "outbox %s to %s: %s; retry at %s",
            claimed.id,
            row.rcpt_to,
            error,
            row.next_attempt_at.isoformat(),
        )


_SENT = (
    update(Outbox)
    .where(
        col(Outbox.id) == bindparam("row"),
        col(Outbox.attempts) == bindparam("leased"),
        col(Outbox.status) == "queued",
    )
    .values(status="sent", sent_at=bindparam("at", type_=UTCDateTime()), last_error="")
)


def _tell_case(session: Session, row: Outbox, error: str, now: datetime) -> None:
    if row.message_pk is None:
        return
    message = session.get(Message, row.message_pk)
    case = session.get(Case, message.case_id) if message and message.case_id else None
    if case is not None:
        cases.note_delivery_failure(session, case, row.rcpt_to, error, now)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try."""
    if attempts <= len(BACKOFF):
        return BACKOFF[max(attempts, 1) - 1]
    return BACKOFF_CAP
