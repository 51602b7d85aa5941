"""Retention: once a day, what has passed its time in the rules' `privacy: retention` goes.

Raw mail bytes after `raw_mail`, attachment files after `attachments`, quarantined mail
after `quarantine`, the content of closed cases after `closed_cases` (see `desk.erasure`),
access-log rows after `access_log`. Nothing of a case on legal hold (`#hold`). Each batch is
a transaction of its own, so the write lock is never held for long; a summary line goes to
the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from smartmail.app import App
from smartmail.desk import access, erasure
from smartmail.rules.retention import Retention
from smartmail.store.blobs import BlobStore
from smartmail.store.db import transaction
from smartmail.store.models import Attachment, Case, Message, Notice, Quarantine, RawMail

log = logging.getLogger(__name__)

BATCH = 50  # rows per transaction: the write lock held about as long as for a few mails
CASES = 1  # cases per transaction: each is a few dozen statements


@dataclass
class RetentionReport:
    raw_mail: int = 0
    attachments: int = 0
    files: int = 0
    quarantine: int = 0
    cases: int = 0
    access_log: int = 0

    def __str__(self) -> str:
        return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in vars(self).items())

    @property
    def total(self) -> int:
        return sum(vars(self).values())


def once_a_day(app: App, now: datetime) -> RetentionReport | None:
    """The day's retention pass, unless it ran today already."""
    day = now.astimezone(app.rules().calendar.timezone).date().isoformat()
    key = f"retention:{day}"
    with transaction(app.engine) as session:
        if session.exec(select(Notice.id).where(Notice.key == key)).first() is not None:
            return None
    report = run(app, now)
    try:
        with transaction(app.engine) as session:
            session.add(Notice(key=key, created_at=now))
    except IntegrityError:
        pass  # another sweep ran it too: erasing twice erases nothing more
    return report


def run(app: App, now: datetime) -> RetentionReport:
    rules = app.rules()
    kept = rules.privacy.retention
    blobs = BlobStore(app.settings.attachment_dir)
    keep = frozenset(p.email for p in rules.people)
    report = RetentionReport()
    report.raw_mail = _batches(app, lambda s: _raw_mail(s, kept, now))
    report.quarantine = _batches(app, lambda s: _quarantine(s, kept, now))
    unlinked = erasure.Unlinked()
    report.attachments = _batches(app, lambda s: _attachments(s, kept, now, unlinked))
    report.cases = _batches(app, lambda s: _cases(s, kept, now, unlinked, keep))
    shas = sorted(unlinked.shas)
    for start in range(0, len(shas), BATCH):
        with transaction(app.engine) as session:
            some = erasure.Unlinked(set(shas[start : start + BATCH]))
            report.files += some.remove(session, blobs)
    with transaction(app.engine) as session:
        report.access_log = access.purge_before(session, kept.access_log.before(now))
    if report.cases:  # the erased cases' words leave the search index's file as well
        erasure.compact(app.engine)
    if report.total:
        log.info("retention as of %s erased: %s", now.isoformat(timespec="minutes"), report)
    return report


def _batches(app: App, step: Callable[[Session], int]) -> int:
    """Run `step` in transactions of its own until it finds nothing; how many it did."""
    done = 0
    while True:
        with transaction(app.engine) as session:
            erasure.scrubbing(session)
            count = step(session)
        done += count
        if count == 0:
            return done


def _held_shas() -> SelectOfScalar[str] | SelectOfScalar[None]:
    """The raw mails of cases on legal hold: kept."""
    return (
        select(Message.raw_sha256)
        .join(Case, col(Case.id) == col(Message.case_id))
        .where(col(Case.hold).is_(True), col(Message.raw_sha256).is_not(None))
    )


def _raw_mail(session: Session, kept: Retention, now: datetime) -> int:
    cutoff = kept.raw_mail.before(now)
    shas = session.exec(
        select(RawMail.sha256)
        .where(
            col(RawMail.received_at) < cutoff,
            col(RawMail.erased_at).is_(None),
            col(RawMail.sha256).not_in(_held_shas()),
        )
        .limit(BATCH)
    ).all()
    return erasure.erase_raw(session, shas, now)


def _quarantine(session: Session, kept: Retention, now: datetime) -> int:
    """Quarantined mail past its time: the entry goes, and its bytes unless a stored
    message keeps them (the raw mail's own time counts for those)."""
    cutoff = kept.quarantine.before(now)
    rows = session.exec(
        select(Quarantine.id, Quarantine.raw_sha256)
        .where(col(Quarantine.created_at) < cutoff)
        .limit(BATCH)
    ).all()
    if not rows:
        return 0
    stored = set(
        session.exec(
            select(Message.raw_sha256).where(
                col(Message.raw_sha256).in_([sha for _id, sha in rows])
            )
        ).all()
    )
    erasure.erase_raw(session, (sha for _id, sha in rows if sha not in stored), now)
    for quarantine_id, _sha in rows:
        row = session.get(Quarantine, quarantine_id)
        if row is not None:
            session.delete(row)
    return len(rows)


def _attachments(
    session: Session, kept: Retention, now: datetime, unlinked: erasure.Unlinked
) -> int:
    cutoff = kept.attachments.before(now)
    ids = session.exec(
        select(Attachment.id)
        .join(Message, col(Message.id) == col(Attachment.message_pk))
        .outerjoin(Case, col(Case.id) == col(Message.case_id))
        .where(
            col(Message.created_at) < cutoff,
            col(Attachment.erased_at).is_(None),
            col(Case.hold).is_not(True),
        )
        .limit(BATCH)
    ).all()
    return erasure.erase_attachments(session, (i for i in ids if i is not None), now, unlinked)


def _cases(
    session: Session,
    kept: Retention,
    now: datetime,
    unlinked: erasure.Unlinked,
    keep: frozenset[str],
) -> int:
    """Closed cases past their time, a few per transaction."""
    cutoff = kept.closed_cases.before(now)
    found = session.exec(
        select(Case)
        .where(
            Case.status == "closed",
            col(Case.closed_at) < cutoff,
            col(Case.hold).is_(False),
            col(Case.erased_at).is_(None),
        )
        .order_by(col(Case.id))
        .limit(CASES)
    ).all()
    why = f"closed more than {kept.closed_cases} ago"
    for case in found:
        erasure.erase_case(session, case, why, now, unlinked, keep)
    return len(found)
