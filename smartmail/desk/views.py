"""Read-only views of cases for `smartmail case list|show`: JSON-ready dicts and plain text.

The JSON keeps ISO 8601 times in UTC with their offset; the text shows them local to the
rules' time zone with the zone marked (`2026-11-23 10:00 CET`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from smartmail.desk import cases
from smartmail.mail.masking import mask
from smartmail.mail.phrases import local_time
from smartmail.store.models import (
    OPEN_STATUSES,
    Attachment,
    Case,
    CaseLabel,
    CaseParty,
    Event,
    Message,
    Party,
    TimeEntry,
    base_status,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def case_summary(session: Session, case: Case) -> dict[str, Any]:
    customer = session.get(Party, case.customer_id) if case.customer_id else None
    habits = {
        "labels": cases.labels_of(session, case),
        "watchers": cases.watchers_of(session, case),
    }
    return _summary(case, customer, {**habits, **_totals(session, case)})


def case_summaries(session: Session, cases: Sequence[Case]) -> Iterator[dict[str, Any]]:
    """`case_summary` of many cases, their customers and totals read in a few queries."""
    for start in range(0, len(cases), _CHUNK):
        chunk = cases[start : start + _CHUNK]
        customer_ids = {c.customer_id for c in chunk if c.customer_id}
        customers = {
            p.id: p for p in session.exec(select(Party).where(col(Party.id).in_(customer_ids)))
        }
        numbers = [c.number for c in chunk]
        totals = _totals_of(session, numbers)
        labels = _labels_of(session, numbers)
        watchers = _watchers_of(session, numbers)
        for case in chunk:
            customer = customers.get(case.customer_id) if case.customer_id else None
            habits = {
                "labels": labels.get(case.number, []),
                "watchers": watchers.get(case.number, []),
            }
            yield _summary(case, customer, {**habits, **totals.get(case.number, _NO_TOTALS)})


def listed_summaries(
    session: Session, open_only: bool = False, owner: str | None = None
) -> list[dict[str, Any]]:
    """What `case list` prints, as `case_summaries(list_cases(...))` but read as rows, not
    ORM objects: over thousands of cases building the objects took most of the time."""
    table = Case.__table__  # type: ignore[attr-defined]
    query = (
        sa_select(
            table,
            table.c.id.label("number"),
            Party.__table__.c.email.label("customer_email"),  # type: ignore[attr-defined]
            Party.__table__.c.name.label("customer_name"),  # type: ignore[attr-defined]
        )
        .select_from(table)
        .outerjoin(Party.__table__, table.c.customer_id == Party.__table__.c.id)  # type: ignore[attr-defined]
        .order_by(table.c.id)
    )
    if open_only:
        query = query.where(table.c.status.in_(OPEN_STATUSES))
    if owner is not None:
        query = query.where(table.c.assignee == owner.lower())
    found = session.execute(query).all()
    rows: list[dict[str, Any]] = []
    for start in range(0, len(found), _CHUNK):
        chunk = found[start : start + _CHUNK]
        numbers = [row.number for row in chunk]
        totals = _totals_of(session, numbers)
        labels = _labels_of(session, numbers)
        watchers = _watchers_of(session, numbers)
        for row in chunk:
            customer = _Customer(row.customer_email, row.customer_name) if row.customer_id else None
            habits = {
                "labels": labels.get(row.number, []),
                "watchers": watchers.get(row.number, []),
            }
            rows.append(_summary(row, customer, {**habits, **totals.get(row.number, _NO_TOTALS)}))
    return rows


class _Customer(NamedTuple):
    email: str | None
    name: str | None


_CHUNK = 500  # ids per IN list: far below any database's limit on bound values
_NO_TOTALS: dict[str, Any] = {"time_minutes": 0, "material_total": 0.0}


def _totals_of(session: Session, numbers: list[int]) -> dict[int, dict[str, Any]]:
    rows = session.exec(
        select(
            TimeEntry.case_id,
            func.coalesce(func.sum(TimeEntry.minutes), 0),
            func.coalesce(func.sum(TimeEntry.amount), 0),
        )
        .where(col(TimeEntry.case_id).in_(numbers))
        .group_by(col(TimeEntry.case_id))
    ).all()
    return {
        number: {"time_minutes": int(minutes), "material_total": round(float(amount), 2)}
        for number, minutes, amount in rows
    }


def _labels_of(session: Session, numbers: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    query = select(CaseLabel.case_id, CaseLabel.label).where(col(CaseLabel.case_id).in_(numbers))
    for number, label in session.exec(query.order_by(col(CaseLabel.label))):
        found.setdefault(number, []).append(label)
    return found


def _watchers_of(session: Session, numbers: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    query = (
        select(CaseParty.case_id, Party.email)
        .join(Party, col(CaseParty.party_id) == col(Party.id))
        .where(col(CaseParty.case_id).in_(numbers), CaseParty.role == "watcher")
        .order_by(col(Party.email))
    )
    for number, address in session.exec(query):
        found.setdefault(number, []).append(address)
    return found


def _summary(
    case: Any, customer: Party | _Customer | None, extra: dict[str, Any]
) -> dict[str, Any]:
    """The case's own columns (a Case, or a row of its table with `number`), then `extra`:
    its labels, watchers and totals."""
    return {
        "number": case.number,
        "subject": case.subject,
        "status": case.status,
        "base_status": base_status(case.status),
        "priority": case.priority,
        "category": case.category,
        "group": case.group,
        "assignee": case.assignee,
        "team": case.team,
        "customer": customer.email if customer else None,
        "customer_name": customer.name if customer else None,
        "channel": case.channel,
        "type": case.type,
        "created_at": _iso(case.created_at),
        "updated_at": _iso(case.updated_at),
        "respond_due_at": _iso(case.respond_due_at),
        "due_at": _iso(case.due_at),
        "first_response_at": _iso(case.first_response_at),
        "resolved_at": _iso(case.resolved_at),
        "closed_at": _iso(case.closed_at),
        "reopen_count": case.reopen_count,
        "route_reason": case.route_reason,
        "hold": case.hold,
        "erased_at": _iso(case.erased_at),
        **extra,
    }


def _totals(session: Session, case: Case) -> dict[str, Any]:
    """Time worked and material used on the case, for invoicing."""
    minutes, amount = session.exec(
        select(
            func.coalesce(func.sum(TimeEntry.minutes), 0),
            func.coalesce(func.sum(TimeEntry.amount), 0),
        ).where(TimeEntry.case_id == case.number)
    ).one()
    return {"time_minutes": int(minutes), "material_total": round(float(amount), 2)}


def case_detail(session: Session, case: Case) -> dict[str, Any]:
    data = case_summary(session, case)
    messages = session.exec(
        select(Message).where(Message.case_id == case.number).order_by(col(Message.id))
    ).all()
    events = session.exec(
        select(Event).where(Event.case_id == case.number).order_by(col(Event.id))
    ).all()
    data["messages"] = [message_view(session, m) for m in messages]
    data["events"] = [
        {
            "at": _iso(e.at),
            "actor": e.actor,
            "kind": e.kind,
            "detail": json.loads(e.detail) if e.detail else {},
        }
        for e in events
    ]
    return data


def message_view(session: Session, message: Message) -> dict[str, Any]:
    attachments = session.exec(select(Attachment).where(Attachment.message_pk == message.id)).all()
    return {
        "message_id": message.message_id,
        "direction": message.direction,
        "from": message.from_addr,
        "to": [a for a in message.to_addrs.split(",") if a],
        "subject": message.subject,
        "text": message.text,
        "visibility": message.visibility,
        "automatic": message.automatic,
        "channel": message.channel,
        "thread_signal": message.thread_signal,
        "guard_hits": [h for h in message.guard_hits.split(",") if h],
        "parse_notes": [n for n in message.parse_notes.split("; ") if n],
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size}
            for a in attachments
        ],
        "at": _iso(message.created_at),
    }


def json_lines(rows: Sequence[dict[str, Any]]) -> str:
    """A JSON array, one object a line: json's C encoder writes each (with `indent` it falls
    back to Python, five times slower over thousands of cases)."""
    if not rows:
        return "[]"
    return "[\n" + ",\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n]"


def masked(value: Any) -> Any:
    """A view with personal numbers, card and account numbers and door codes masked in
    every text of it (`case show` without `--unmasked`)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def list_cases(session: Session, open_only: bool = False, owner: str | None = None) -> list[Case]:
    query = select(Case)
    if open_only:
        query = query.where(col(Case.status).in_(OPEN_STATUSES))
    if owner is not None:
        query = query.where(Case.assignee == owner.lower())
    return list(session.exec(query.order_by(col(Case.id))).all())


def _when(iso: str | None, tz: ZoneInfo) -> str:
    """An ISO 8601 time of the JSON as people read it: local, the zone marked."""
    return local_time(datetime.fromisoformat(iso), tz) if iso else "-"


def case_line(data: dict[str, Any], tz: ZoneInfo) -> str:
    due = _when(data["due_at"], tz)
    return (
        f"#{data['number']:<5} {data['status']:<9} {data['priority'] or '-':<8} "
        f"due {due:<21} {data['assignee'] or '-':<28} {data['subject']}"
    )


def case_text(data: dict[str, Any], tz: ZoneInfo) -> str:
    """One case for the terminal; every time local to `tz` (the rules' zone), zone marked."""
    lines = [
        f"Case {data['number']}: {data['subject']}",
        f"  status     {data['status']} ({data['base_status']})",
        f"  priority   {data['priority']}   due {_when(data['due_at'], tz)}",
        f"  category   {data['category']} / {data['group']}",
        f"  assignee   {data['assignee'] or '-'}   customer {data['customer']}",
        f"  channel    {data.get('channel', 'mail')}   type {data.get('type') or '-'}",
        f"  labels     {', '.join(data.get('labels', [])) or '-'}",
        f"  watchers   {', '.join(data.get('watchers', [])) or '-'}",
        f"  created    {_when(data['created_at'], tz)}",
        f"  routed     {data['route_reason']}",
        *(["  on legal hold (#hold): never erased"] if data.get("hold") else []),
        "",
    ]
    for m in data["messages"]:
        if m["direction"] == "in":
            who = f"<- {m['from']} ({m['visibility']}, found by {m['thread_signal']})"
        else:
            who = f"-> {', '.join(m['to'])} ({m['visibility']})"
        lines.append(f"{_when(m['at'], tz)} {who}")
        lines.append(f"    {m['subject']}")
        lines.extend(f"    (read: {note})" for note in m["parse_notes"])
        lines.extend(f"    | {line}" for line in m["text"].splitlines()[:20])
    lines.append("")
    lines.extend(
        f"{_when(e['at'], tz)} {e['actor']}: {e['kind']} {_detail(e['detail'], tz)}".rstrip()
        for e in data["events"]
    )
    return "\n".join(lines)


def _detail(detail: dict[str, Any], tz: ZoneInfo) -> str:
    """An event's detail as `key=value`, times in them local like every other."""
    return ", ".join(f"{key}={_local_value(value, tz)}" for key, value in detail.items())


def _local_value(value: Any, tz: ZoneInfo) -> str:
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == value[7:8] == "-":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return local_time(moment, tz)
    return str(value)
