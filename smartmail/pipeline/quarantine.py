"""Never lost: a mail whose processing raised is kept, raw bytes and error, until replayed.

A raise is a bug, not bad input. The mail is kept in the transaction that would have
stored it and the sender's server hears it was taken; after the fix, `smartmail replay`
runs it through the pipeline again.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.store.db import transaction
from smartmail.store.models import Quarantine, RawMail
from smartmail.store.rawmail import keep_raw


def keep_failed(
    session: Session, raw: bytes, sha: str, envelope: Envelope, error: BaseException, now: datetime
) -> str:
    """Keep the mail with its error (once, however often the same bytes come); says which."""
    keep_raw(session, sha, raw, now)
    same = (Quarantine.raw_sha256 == sha, col(Quarantine.replayed_at).is_(None))
    waiting = session.exec(select(Quarantine).where(*same)).first()
    if waiting is not None:  # the same bytes again (a resend, an IMAP re-read)
        return f"quarantine #{waiting.id}: {waiting.error}"
    said, trace = _what_raised(error)
    row = Quarantine(
        raw_sha256=sha,
        channel=envelope.channel,
        mail_from=envelope.mail_from,
        rcpt_to=",".join(envelope.rcpt_to),
        error=said,
        traceback=trace,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return f"quarantine #{row.id}: {row.error}"


def replay_kept(
    engine: Engine,
    rerun: Callable[[bytes, Quarantine], Outcome],
    ids: list[int] | None,
    now: datetime,
) -> list[str]:
    """`rerun` each kept mail (all waiting, or the given ids); returns a line per mail."""
    with transaction(engine) as session:
        query = select(Quarantine).where(col(Quarantine.replayed_at).is_(None))
        if ids:
            query = query.where(col(Quarantine.id).in_(ids))
        rows = session.exec(query.order_by(col(Quarantine.id))).all()
    return [_replay_one(engine, rerun, row, now) for row in rows]


def _replay_one(
    engine: Engine, rerun: Callable[[bytes, Quarantine], Outcome], row: Quarantine, now: datetime
) -> str:
    with transaction(engine) as session:
        kept = session.get(RawMail, row.raw_sha256)
        assert kept is not None, f"quarantine #{row.id} lost its raw mail"
        raw = kept.data
    try:
        outcome = rerun(raw, row)
    except Exception as exc:  # still broken: keep it quarantined with the newest error
        said, trace = _what_raised(exc)
        _update(engine, row, error=said, traceback=trace)
        return f"#{row.id}: still failing: {said}"
    _update(engine, row, replayed_at=now)
    number = f" case {outcome.case_number}" if outcome.case_number else ""
    return f"#{row.id}: {outcome.kind}{number}"


def _update(engine: Engine, row: Quarantine, **values: object) -> None:
    with transaction(engine) as session:
        stored = session.get(Quarantine, row.id)
        assert stored is not None
        for name, value in values.items():
            setattr(stored, name, value)


def _what_raised(error: BaseException) -> tuple[str, str]:
    """The error in a line, and its traceback."""
    return f"{type(error).__name__}: {error}", "".join(traceback.format_exception(error))
