"""Erasing what is past its time, or what a person asks us to forget.

What goes: raw mail bytes, attachment files (a file shared by several messages goes with its
last reference), and on an erased case its messages' subjects and texts, the names and
addresses of customers with no other live case, the text of its time entries and of its
events' details, the bytes of the mail we sent on it. They become a fixed marker. What
stays: case numbers, categories, priorities, statuses, times, time and material totals,
every event's kind and time, and the hashes and sizes of erased bytes, so the figures of
old periods add up as before. The case itself is changed by `cases.erased` (an event).

A case on legal hold (`#hold`) is never erased.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, String, cast, delete, func, literal, or_, update
from sqlmodel import Session, col, select

from smartmail.desk import cases
from smartmail.store import search
from smartmail.store.blobs import BlobStore
from smartmail.store.models import (
    AccessLog,
    Attachment,
    Case,
    CaseParty,
    Event,
    Message,
    Notice,
    Outbox,
    Party,
    Quarantine,
    RawMail,
    SmsOutbox,
    Suppression,
    TimeEntry,
)

MARKER = cases.ERASED
# Event kinds whose detail says nothing about a person: kept on an erased case.
_PLAIN_DETAIL = frozenset(
    {
        "status",
        "priority",
        "category",
        "due",
        "clock_paused",
        "clock_resumed",
        "reopened",
        "linked",
        "merged_into",
        "merged_from",
        "follow_up_of",
        "followed_up_by",
        "first_response",
        "hold",
        "erased",
    }
)
_OUTBOX_DONE = ("sent", "failed")


def erased_address(party_id: int | None) -> str:
    """What an erased person's address becomes: unique, and never a mailbox."""
    return f"erased-{party_id}@invalid"


def _db(session: Session) -> Connection:
    return session.connection()


def scrubbing(session: Session) -> None:
    """On SQLite, what is erased is overwritten in the file too, not only unlinked."""
    if _db(session).dialect.name == "sqlite":
        _db(session).exec_driver_sql("PRAGMA secure_delete=ON")


# -- hooks: one message, one raw mail ------------------------------------------------------


def erase_message_texts(session: Session, message_pks: Iterable[int], now: datetime) -> None:
    """These messages' subjects and texts become the marker, their Message-IDs a marker of
    their own, and the bytes of what we sent of them go.

    The one place a message's text is erased, and the search index forgets it here.
    """
    ids = sorted(set(message_pks))
    if not ids:
        return
    erased_id = literal("<erased-") + cast(Message.id, String) + literal("@erased.invalid>")
    _db(session).execute(
        update(Message)
        .where(col(Message.id).in_(ids))
        .values(subject=MARKER, text=MARKER, parse_notes="", message_id=erased_id, erased_at=now)
    )
    _db(session).execute(
        update(Outbox)
        .where(col(Outbox.message_pk).in_(ids), col(Outbox.status).in_(_OUTBOX_DONE))
        .values(body=b"")
    )
    # The search index holds the words of these texts: their cases are indexed again from
    # what is left (PostgreSQL's triggers do that by themselves).
    touched = select(Message.case_id).where(col(Message.id).in_(ids)).distinct()
    for case_id in _db(session).execute(touched).scalars():
        if case_id is not None:
            search.reindex_case(session, case_id)


def erase_raw(session: Session, shas: Iterable[str], now: datetime) -> int:
    """The bytes of these raw mails go; their hash and size stay."""
    wanted = sorted(set(shas))
    if not wanted:
        return 0
    result = _db(session).execute(
        update(RawMail)
        .where(col(RawMail.sha256).in_(wanted), col(RawMail.erased_at).is_(None))
        .values(size=func.length(RawMail.data), data=b"", erased_at=now)
    )
    return int(result.rowcount or 0)


# -- attachments -----------------------------------------------------------------------------


@dataclass
class Unlinked:
    """Attachment files whose rows were erased: each goes once nothing else refers to it."""

    shas: set[str] = field(default_factory=set)

    def remove(self, session: Session, blobs: BlobStore) -> int:
        """Delete the files no live attachment refers to any more; how many went."""
        gone = 0
        for sha in sorted(self.shas):
            still = (
                _db(session)
                .execute(
                    select(Attachment.id)
                    .where(Attachment.sha256 == sha, col(Attachment.erased_at).is_(None))
                    .limit(1)
                )
                .first()
            )
            path = blobs.path(sha)
            if still is None and path.exists():
                path.unlink()
                gone += 1
        return gone


def erase_attachments(
    session: Session, attachment_ids: Iterable[int], now: datetime, unlinked: Unlinked
) -> int:
    ids = sorted(set(attachment_ids))
    if not ids:
        return 0
    shas = (
        _db(session).execute(select(Attachment.sha256).where(col(Attachment.id).in_(ids))).scalars()
    )
    unlinked.shas.update(shas)
    result = _db(session).execute(
        update(Attachment)
        .where(col(Attachment.id).in_(ids), col(Attachment.erased_at).is_(None))
        .values(erased_at=now)
    )
    return int(result.rowcount or 0)


# -- a case -------------------------------------------------------------------------------


def _erase_attachments_of(
    session: Session, message_pks: list[int], now: datetime, unlinked: Unlinked
) -> None:
    """The attachments of these messages, their files left to `unlinked`."""
    query = select(Attachment.id).where(col(Attachment.message_pk).in_(message_pks))
    erase_attachments(session, _db(session).execute(query).scalars(), now, unlinked)


def erase_case(
    session: Session,
    case: Case,
    why: str,
    now: datetime,
    unlinked: Unlinked,
    keep: frozenset[str] = frozenset(),
    forget_others: bool = True,
) -> list[str]:
    """Erase the content of `case` (see the module); the customers with no other live case
    are forgotten everywhere. `keep`: addresses that are never erased (the rules' people).
    Gives what was erased."""
    messages = list(
        _db(session).execute(
            select(Message.id, Message.raw_sha256).where(Message.case_id == case.number)
        )
    )
    erase_message_texts(session, (pk for pk, _sha in messages), now)
    erase_raw(session, (sha for _pk, sha in messages if sha), now)
    _erase_attachments_of(session, [pk for pk, _sha in messages], now, unlinked)
    _db(session).execute(
        update(Attachment)
        .where(col(Attachment.message_pk).in_([m[0] for m in messages]))
        .values(filename=MARKER)
    )
    _db(session).execute(
        update(TimeEntry)
        .where(col(TimeEntry.case_id) == case.number, col(TimeEntry.text) != "")
        .values(text=MARKER)
    )
    _db(session).execute(
        update(Event)
        .where(col(Event.case_id) == case.number, col(Event.kind).not_in(_PLAIN_DETAIL))
        .values(detail="")
    )
    _erase_sms(session, case.number)
    forgotten = [
        email
        for party_id, email in _people_of(session, case)
        if forget_others
        and email not in keep
        and not _live_elsewhere(session, party_id, case.number)
    ]
    for email in forgotten:
        forget_address(session, email, now)
    what = ["messages", "raw mail", "attachments", "subject"]
    if forgotten:
        what.append(f"{len(forgotten)} customer address(es)")
    cases.erased(session, case, what, why, now)
    return what


def _erase_sms(session: Session, case_number: int) -> None:
    """The SMS about the case name its customer and quote the problem: an SMS still queued
    is not sent, and every text becomes the marker."""
    about = col(SmsOutbox.case_id) == case_number
    queued = about & (col(SmsOutbox.status) == "queued")
    _db(session).execute(update(SmsOutbox).where(queued).values(status="dropped"))
    _db(session).execute(update(SmsOutbox).where(about).values(text=MARKER))


def _people_of(session: Session, case: Case) -> list[tuple[int, str]]:
    rows = _db(session).execute(
        select(Party.id, Party.email)
        .join(CaseParty, col(CaseParty.party_id) == col(Party.id))
        .where(CaseParty.case_id == case.number, col(Party.erased_at).is_(None))
        .distinct()
    )
    return [(int(pid), str(email)) for pid, email in rows]


def _live_elsewhere(session: Session, party_id: int, case_number: int) -> bool:
    """Does the person take part in another case that is not erased?"""
    found = (
        _db(session)
        .execute(
            select(CaseParty.case_id)
            .join(Case, col(Case.id) == col(CaseParty.case_id))
            .where(
                col(CaseParty.party_id) == party_id,
                col(CaseParty.case_id) != case_number,
                col(Case.erased_at).is_(None),
            )
            .limit(1)
        )
        .first()
    )
    return found is not None


# -- an address, everywhere ---------------------------------------------------------------


def forget_address(session: Session, email: str, now: datetime, thorough: bool = False) -> str:
    """Every trace of `email` replaced by the person's erased address (a marker); gives it.

    Their party's name and address, messages from and to them, events they did or that
    name them, mail queued or sent to them, their suppression, notices and access-log
    rows naming them. `thorough` (an erasure on request) looks in every row, quarantined
    mail included; else (retention) only on the cases they took part in, so that a batch
    stays short.
    """
    email = email.lower()
    party = _db(session).execute(select(Party.id).where(Party.email == email)).first()
    marker = erased_address(party[0] if party else 0)
    scope = None if thorough or party is None else _cases_of(session, party[0])
    if party is not None:
        _db(session).execute(
            update(Party)
            .where(col(Party.id) == party[0])
            .values(email=marker, name="", erased_at=now)
        )
    _forget_sent_naming(session, email, marker, scope, thorough)
    columns = ("from_addr", "to_addrs", "subject", "text")
    _replace_in(session, Message, columns, email, marker, scope)
    _replace_in(session, Event, ("actor", "detail"), email, marker, scope)
    _replace_in(session, TimeEntry, ("actor", "text"), email, marker, scope)
    _db(session).execute(delete(Suppression).where(col(Suppression.address) == email))
    notices = delete(Notice).where(func.lower(Notice.key).like(f"%{email}%"))
    if scope is not None:
        notices = notices.where(col(Notice.case_id).in_(scope))
    _db(session).execute(notices)
    if thorough:
        _replace_in(session, AccessLog, ("actor", "person", "detail"), email, marker, None)
        _forget_quarantined(session, f"%{email}%", now)
    else:
        for column in (AccessLog.actor, AccessLog.person):
            _db(session).execute(
                update(AccessLog).where(col(column) == email).values({column: marker})
            )
    return marker


def _cases_of(session: Session, party_id: int) -> list[int]:
    found = _db(session).execute(
        select(CaseParty.case_id).where(col(CaseParty.party_id) == party_id).distinct()
    )
    return sorted(found.scalars())


def _forget_sent_naming(
    session: Session, email: str, marker: str, scope: list[int] | None, thorough: bool
) -> None:
    """The bytes of mail we sent (or meant to) that name `email`: to them, or about them
    (a notice quoting their words); `thorough` also reads every body we hold (an erasure
    on request: the daily retention must not hold the write lock that long)."""
    like = f"%{email}%"
    naming = select(Message.id).where(
        or_(
            func.lower(Message.to_addrs).like(like),
            func.lower(Message.subject).like(like),
            func.lower(Message.text).like(like),
        )
    )
    if scope is not None:
        naming = naming.where(col(Message.case_id).in_(scope))
    ids = set(_db(session).execute(naming).scalars())
    if thorough:
        ids |= set(_outbox_naming(session, email))
    if not ids:
        return
    outbox = col(Outbox.message_pk).in_(sorted(ids))
    _db(session).execute(
        update(Outbox)
        .where(outbox, col(Outbox.status) == "queued")
        .values(status="failed", last_error="it named a person whose data was erased")
    )
    _db(session).execute(update(Outbox).where(outbox).values(body=b""))
    to_them = outbox & func.lower(Outbox.rcpt_to).like(like)
    _db(session).execute(update(Outbox).where(to_them).values(rcpt_to=marker))


def _outbox_naming(session: Session, email: str, batch: int = 200) -> list[int]:
    """Messages whose outbox bytes name `email` (any case)."""
    needle, after = email.lower().encode(), 0
    found: list[int] = []
    while True:
        rows = (
            _db(session)
            .execute(
                select(Outbox.id, Outbox.message_pk, Outbox.body)
                .where(col(Outbox.id) > after)
                .order_by(col(Outbox.id))
                .limit(batch)
            )
            .all()
        )
        if not rows:
            return found
        found.extend(pk for _id, pk, body in rows if pk and needle in bytes(body).lower())
        after = rows[-1][0]


def _replace_in(
    session: Session,
    table: Any,
    columns: tuple[str, ...],
    email: str,
    marker: str,
    scope: list[int] | None,
) -> None:
    """`email` replaced by `marker` in these text columns, in whatever case it was written;
    on the cases in `scope` only, unless it is None."""
    like = f"%{email}%"
    cells = [getattr(table, c) for c in columns]
    condition = or_(*(func.lower(cell).like(like) for cell in cells))
    query = select(table.id, *cells).where(condition)
    if scope is not None:
        query = query.where(table.case_id.in_(scope))
    for row in _db(session).execute(query).all():
        values = {c: _replaced(v, email, marker) for c, v in zip(columns, row[1:], strict=True)}
        _db(session).execute(update(table).where(table.id == row[0]).values(**values))


def _replaced(value: str | None, email: str, marker: str) -> str | None:
    if value is None:
        return None
    lowered, out, at = value.lower(), [], 0
    while (found := lowered.find(email, at)) >= 0:
        out.append(value[at:found] + marker)
        at = found + len(email)
    return "".join(out) + value[at:]


def _forget_quarantined(session: Session, like: str, now: datetime) -> None:
    rows = (
        _db(session)
        .execute(
            select(Quarantine.id, Quarantine.raw_sha256).where(
                or_(
                    func.lower(func.coalesce(Quarantine.mail_from, "")).like(like),
                    func.lower(Quarantine.rcpt_to).like(like),
                )
            )
        )
        .all()
    )
    erase_raw(session, (sha for _id, sha in rows), now)
    if rows:
        _db(session).execute(delete(Quarantine).where(col(Quarantine.id).in_([r[0] for r in rows])))


def raw_mail_naming(session: Session, email: str, batch: int = 200) -> list[str]:
    """The raw mails whose bytes name `email` (any case), not yet erased."""
    needle, after = email.lower().encode(), ""
    found: list[str] = []
    while True:
        rows = (
            _db(session)
            .execute(
                select(RawMail.sha256, RawMail.data)
                .where(col(RawMail.erased_at).is_(None), RawMail.sha256 > after)
                .order_by(RawMail.sha256)
                .limit(batch)
            )
            .all()
        )
        if not rows:
            return found
        found.extend(sha for sha, data in rows if needle in bytes(data).lower())
        after = rows[-1][0]


@dataclass
class PersonErased:
    marker: str = ""  # what the address became
    cases: list[int] = field(default_factory=list)  # whose content was erased
    held: list[int] = field(default_factory=list)  # on legal hold: left as they are
    messages: int = 0  # their messages on other cases
    raw_mail: int = 0


def erase_person(session: Session, email: str, now: datetime, unlinked: Unlinked) -> PersonErased:
    """The erasure of retention applied now to one person's data on every case, open ones
    included: the content of the cases they reported, their messages on others, every raw
    mail naming them, and their address everywhere. The cases stay, for the figures."""
    email = email.lower()
    result = PersonErased()
    why = "erased on request"
    for case in _cases_reported_by(session, email):
        if case.hold:
            result.held.append(case.number)
            continue
        erase_case(session, case, why, now, unlinked, forget_others=False)
        result.cases.append(case.number)
    theirs = (
        _db(session)
        .execute(
            select(Message.id, Message.raw_sha256).where(
                or_(
                    func.lower(Message.from_addr) == email,
                    func.lower(Message.to_addrs).like(f"%{email}%"),
                ),
                col(Message.erased_at).is_(None),
            )
        )
        .all()
    )
    erase_message_texts(session, (pk for pk, _sha in theirs), now)
    _erase_attachments_of(session, [pk for pk, _sha in theirs], now, unlinked)
    result.messages = len(theirs)
    shas = {sha for _pk, sha in theirs if sha} | set(raw_mail_naming(session, email))
    result.raw_mail = erase_raw(session, shas, now)
    result.marker = forget_address(session, email, now, thorough=True)
    return result


def _cases_reported_by(session: Session, email: str) -> list[Case]:
    query = (
        select(Case)
        .join(CaseParty, col(CaseParty.case_id) == col(Case.id))
        .join(Party, col(Party.id) == col(CaseParty.party_id))
        .where(
            col(Party.email) == email,
            col(CaseParty.role).in_(("customer", "merged_customer")),
        )
        .distinct()
        .order_by(col(Case.id))
    )
    return list(session.exec(query).all())


def forget_in_files(directory: Path, email: str) -> int:
    """Files under `directory` (mail written as .eml instead of sent) that name `email` go."""
    if not directory.is_dir():
        return 0
    needle, gone = email.lower().encode(), 0
    for path in sorted(directory.rglob("*")):
        if path.is_file() and needle in path.read_bytes().lower():
            path.unlink()
            gone += 1
    return gone


def compact(engine: Engine) -> None:
    """On SQLite, what was erased leaves the search index's older segments and the
    write-ahead log too (they are merged, and it is emptied)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as connection:
        search.purge_erased(connection)
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
