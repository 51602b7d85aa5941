"""Answers to #mine, #new and #case: the to-do list without a UI. Read-only.

Each line is a Phrase, put into the reader's language when the mail is composed; times
are local to the rules' zone, the zone marked.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from smartmail.desk import cases
from smartmail.mail.phrases import N_, NC_, Phrase, join, local_time, phrase, status, word
from smartmail.store.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Case,
    CaseParty,
    Event,
    Message,
    Party,
)

_LINE = N_("#{number:<5} {status:<11} {priority:<7} due {due}  {subject}")
_LATE_LINE = N_("#{number:<5} {status:<11} {priority:<7} due {due} LATE  {subject}")
_STATUSES = frozenset((*OPEN_STATUSES, *CLOSED_STATUSES))
# What each kind of event is called in a timeline (the kind with spaces for underscores).
EVENT_WORDS = (
    *(NC_("event", "created"), NC_("event", "mail in"), NC_("event", "mail out")),
    *(NC_("event", "routed"), NC_("event", "assigned"), NC_("event", "status")),
    *(NC_("event", "reopened"), NC_("event", "clock paused"), NC_("event", "clock resumed")),
    *(NC_("event", "priority"), NC_("event", "category"), NC_("event", "due")),
    *(NC_("event", "forwarded"), NC_("event", "time"), NC_("event", "material")),
    *(NC_("event", "linked"), NC_("event", "merged into"), NC_("event", "merged from")),
    *(NC_("event", "first response"), NC_("event", "follow up of")),
    *(NC_("event", "followed up by"), NC_("event", "delivery failed")),
    *(NC_("event", "unproven mail"), NC_("event", "reminder"), NC_("event", "escalation")),
    *(NC_("event", "auto closed"), NC_("event", "answer held"), NC_("event", "answer released")),
    *(NC_("event", "mail refused"), NC_("event", "loop limit"), NC_("event", "suppressed")),
    *(NC_("event", "unsuppressed"), NC_("event", "mail skipped")),
    *(NC_("event", "on call"), NC_("event", "taken"), NC_("event", "on call escalated")),
    NC_("event", "sms failed"),
    *(NC_("event", "labels"), NC_("event", "type"), NC_("event", "channel")),
    *(NC_("event", "watching"), NC_("event", "unwatched")),
    NC_("event", "link revoked"),
    *(NC_("event", "hold"), NC_("event", "erased")),
    NC_("event", "canned answer"),
)
_L = TypeVar("_L", bound="_Listed")
VISIBILITY_WORDS = (NC_("visibility", "public"), NC_("visibility", "internal"))


class _Listed(Protocol):
    """What a case's line shows: a Case, or a row of just these columns (#mine)."""

    @property
    def number(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def priority(self) -> str: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def subject(self) -> str: ...


def case_line(case: _Listed, now: datetime, tz: ZoneInfo) -> Phrase:
    late = bool(case.due_at and case.due_at < now)
    return phrase(
        _LATE_LINE if late else _LINE,
        number=case.number,
        status=status(case.status),
        priority=case.priority,
        due=local_time(case.due_at, tz),
        subject=case.subject,
    )


def _late_first(cases: list[_L], now: datetime) -> list[_L]:
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(cases, key=lambda c: (not (c.due_at and c.due_at < now), c.due_at or far))


def mine(session: Session, email: str, role: str, now: datetime, tz: ZoneInfo) -> list[Phrase]:
    """Open cases the person owns (staff) or reported (customer), late first, then by deadline."""
    # Rows of the five columns a line shows: an owner's thousands of cases as ORM objects
    # took most of the answer's time.
    query: Select[Any, str, str, datetime | None, str] = sa_select(
        col(Case.id).label("number"),
        col(Case.status),
        col(Case.priority),
        col(Case.due_at),
        col(Case.subject),
    ).where(col(Case.status).in_(OPEN_STATUSES))
    if role in ("customer", "contractor"):  # a contractor's: the jobs forwarded to them
        query = (
            query.join(CaseParty, col(CaseParty.case_id) == col(Case.id))
            .join(Party, col(Party.id) == col(CaseParty.party_id))
            .where(col(Party.email) == email.lower(), col(CaseParty.role) == role)
        )
    else:
        query = query.where(col(Case.assignee) == email.lower())
    rows: list[Any] = list(session.execute(query).all())
    return [case_line(row, now, tz) for row in _late_first(rows, now)]


def new_cases(session: Session, now: datetime, tz: ZoneInfo) -> list[Phrase]:
    query = select(Case).where(
        col(Case.status).in_(OPEN_STATUSES),
        or_(col(Case.assignee).is_(None), col(Case.status) == "new"),
    )
    return [case_line(c, now, tz) for c in _late_first(list(session.exec(query).all()), now)]


def timeline(session: Session, case: Case, now: datetime, tz: ZoneInfo) -> list[Phrase]:
    """The case's head and its history: mail in and out, and every change."""
    lines = [
        case_line(case, now, tz),
        phrase(
            N_("  category {category}, owner {owner}"),
            category=f"{case.category}/{case.group}",
            owner=case.assignee or "-",
        ),
        *habit_lines(session, case),
    ]
    messages = session.exec(select(Message).where(Message.case_id == case.number)).all()
    events = session.exec(select(Event).where(Event.case_id == case.number)).all()
    entries: list[tuple[datetime, Phrase]] = []
    for m in messages:
        entries.append((m.created_at, _mail_line(m)))
    for e in events:
        if e.kind not in ("mail_in", "mail_out"):
            entries.append((e.at, _event_line(e, tz)))
    entries.sort(key=lambda entry: entry[0])
    for at, text in entries:
        lines.append(phrase("  {at} {entry}", at=local_time(at, tz), entry=text))
    return lines


def _mail_line(message: Message) -> Phrase:
    first = (message.text.strip().splitlines() or [""])[0][:70]
    visibility = word("visibility", message.visibility)
    if message.direction == "in":
        text = N_("in  {who} ({visibility}): {first}")
        who = message.from_addr
    else:
        text = N_("out {who} ({visibility}): {first}")
        who = message.to_addrs
    return phrase(text, who=who, visibility=visibility, first=first)


def _event_line(event: Event, tz: ZoneInfo) -> Phrase:
    """`kalle@...: status assigned → feedback`: the kind in words, then what changed."""
    detail = json.loads(event.detail) if event.detail else {}
    values: list[str | Phrase] = []
    if detail.get("old") and detail.get("new"):
        old, new = (_detail_value(key, detail.pop(key), tz) for key in ("old", "new"))
        values.append(join((old, new), " → "))
    values += [_detail_value(key, value, tz) for key, value in detail.items() if value]
    return phrase(
        "    {actor}: {kind} {detail}",
        actor=event.actor,
        kind=word("event", event.kind.replace("_", " ")),
        detail=join(values),
    )


def _detail_value(key: str, value: object, tz: ZoneInfo) -> str | Phrase:
    if key in ("old", "new", "status") and value in _STATUSES:
        return status(str(value))
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == value[7:8] == "-":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return local_time(moment, tz) if moment.tzinfo else value
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def habit_lines(session: Session, case: Case) -> list[Phrase]:
    """How the customer reached us, the case's type and labels, who watches it."""
    labels = ", ".join(cases.labels_of(session, case)) or "-"
    watchers = ", ".join(cases.watchers_of(session, case)) or "-"
    return [
        phrase(
            N_("  channel {channel}, type {type}, labels {labels}"),
            channel=word("channel", case.channel),
            type=case.type or "-",
            labels=labels,
        ),
        phrase(N_("  watched by {watchers}"), watchers=watchers),
    ]
