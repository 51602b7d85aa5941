"""The access log: every read of a case's content, or of a person's data, by whom and how.

`case show` (the local user, and whether unmasked), `#case N` and `#search` answers by mail
(who asked), a contractor's job mail (who received which case), and `smartmail person
show|export|erase`. Kept for the rules' `privacy: {retention: {access_log: ...}}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from smartmail.store.db import insert_row
from smartmail.store.models import AccessLog

__all__ = ["Filter", "as_dict", "as_line", "purge_before", "read", "record"]


def record(
    session: Session,
    actor: str,
    action: str,
    now: datetime,
    *,
    case: int | None = None,
    person: str = "",
    **detail: Any,
) -> None:
    """One read, in the transaction of what was read (or sent)."""
    row = {
        "at": now,
        "actor": actor,
        "action": action,
        "case_id": case,
        "person": person.lower(),
        "detail": json.dumps(detail, ensure_ascii=False, default=str) if detail else "",
    }
    insert_row(session, AccessLog, row)


@dataclass(frozen=True)
class Filter:
    case: int | None = None
    person: str | None = None  # who read, or whose data was read
    since: datetime | None = None


def read(session: Session, wanted: Filter) -> list[AccessLog]:
    query = select(AccessLog)
    if wanted.case is not None:
        query = query.where(AccessLog.case_id == wanted.case)
    if wanted.person:
        who = wanted.person.lower()
        query = query.where((col(AccessLog.actor) == who) | (col(AccessLog.person) == who))
    if wanted.since is not None:
        query = query.where(col(AccessLog.at) >= wanted.since)
    return list(session.exec(query.order_by(col(AccessLog.id))).all())


def purge_before(session: Session, cutoff: datetime) -> int:
    """Forget reads older than the access log's retention; how many."""
    result = session.exec(delete(AccessLog).where(col(AccessLog.at) < cutoff))
    return int(result.rowcount or 0)


def as_dict(row: AccessLog) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "case": row.case_id,
        "person": row.person or None,
        "detail": json.loads(row.detail) if row.detail else {},
    }


def as_line(row: AccessLog, local: str) -> str:
    case = f" case {row.case_id}" if row.case_id is not None else ""
    person = f" person {row.person}" if row.person else ""
    detail = f" {row.detail}" if row.detail else ""
    return f"{local} {row.actor}: {row.action}{case}{person}{detail}"
