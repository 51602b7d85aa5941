"""Answers to #mine, #new and #case: the to-do list without a UI. Read-only."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, col, select

from smartmail.store.models import OPEN_STATUSES, Case, CaseParty, Event, Message, Party


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "-"


def case_line(case: Case, now: datetime, tz: ZoneInfo) -> str:
    late = " LATE" if case.due_at and case.due_at < now else ""
    return (
        f"#{case.number:<5} {case.status:<9} {case.priority:<7} due {_local(case.due_at, tz)}"
        f"{late}  {case.subject}"
    )


def _late_first(cases: list[Case], now: datetime) -> list[Case]:
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(cases, key=lambda c: (not (c.due_at and c.due_at < now), c.due_at or far))


def mine(session: Session, email: str, role: str, now: datetime, tz: ZoneInfo) -> list[str]:
    """Open cases the person owns (staff) or reported (customer), late first, then by deadline."""
    query = select(Case).where(col(Case.status).in_(OPEN_STATUSES))
    if role == "customer":
        query = (
            query.join(CaseParty, col(CaseParty.case_id) == col(Case.id))
            .join(Party, col(Party.id) == col(CaseParty.party_id))
            .where(Party.email == email.lower(), CaseParty.role == "customer")
        )
    else:
        query = query.where(Case.assignee == email.lower())
    cases = _late_first(list(session.exec(query).all()), now)
    return [case_line(c, now, tz) for c in cases]


def new_cases(session: Session, now: datetime, tz: ZoneInfo) -> list[str]:
    query = select(Case).where(
        col(Case.status).in_(OPEN_STATUSES),
        or_(col(Case.assignee).is_(None), col(Case.status) == "new"),
    )
    return [case_line(c, now, tz) for c in _late_first(list(session.exec(query).all()), now)]


def timeline(session: Session, case: Case, now: datetime, tz: ZoneInfo) -> list[str]:
    """The case's head and its history: mail in and out, and every change."""
    lines = [
        case_line(case, now, tz),
        f"  category {case.category}/{case.group}, owner {case.assignee or '-'}",
    ]
    messages = session.exec(select(Message).where(Message.case_id == case.number)).all()
    events = session.exec(select(Event).where(Event.case_id == case.number)).all()
    entries: list[tuple[datetime, str]] = []
    for m in messages:
        arrow = "in " if m.direction == "in" else "out"
        who = m.from_addr if m.direction == "in" else m.to_addrs
        first = (m.text.strip().splitlines() or [""])[0][:70]
        entries.append((m.created_at, f"{arrow} {who} ({m.visibility}): {first}"))
    for e in events:
        if e.kind not in ("mail_in", "mail_out"):
            entries.append((e.at, f"    {e.actor}: {e.kind} {e.detail}"))
    entries.sort(key=lambda entry: entry[0])
    lines.extend(f"  {_local(at, tz)} {text}" for at, text in entries)
    return lines
