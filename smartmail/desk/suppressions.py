"""Addresses our mail bounced from for good: no automatic mail goes to them for a while.

A permanent failure (5.x.x) reported for an address suppresses it until `until`; automatic
mail (acknowledgements, notices, digests) to it is then not queued. People's answers still
go. `smartmail suppressed` lists and removes them. Events about a case are written by
cases.py, which calls `put` here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from smartmail.store import prepared
from smartmail.store.models import Suppression

# Asked for every automatic mail we queue: built once.
_UNTIL = select(Suppression.until).where(
    Suppression.address == bindparam("address"), Suppression.until > bindparam("now")
)


def suppressed_until(session: Session, address: str, now: datetime) -> datetime | None:
    """Until when automatic mail to `address` is held back; None when it is not."""
    until: datetime | None = prepared.first(session, _UNTIL, address=address.lower(), now=now)
    return until


def put(
    session: Session,
    address: str,
    reason: str,
    case_id: int | None,
    until: datetime,
    now: datetime,
) -> None:
    """Suppress `address` until `until` (a later bounce moves it on, never back)."""
    row = session.get(Suppression, address.lower())
    if row is None:
        session.add(
            Suppression(
                address=address.lower(), reason=reason, case_id=case_id, created_at=now, until=until
            )
        )
    else:
        row.reason, row.case_id, row.created_at = reason, case_id or row.case_id, now
        row.until = max(row.until, until)
    session.flush()


def active(session: Session, now: datetime) -> list[Suppression]:
    """The addresses suppressed now, soonest to end first."""
    query = (
        select(Suppression)
        .where(Suppression.until > now)
        .order_by(col(Suppression.until), col(Suppression.address))
    )
    return list(session.exec(query).all())


def remove(session: Session, address: str) -> Suppression | None:
    """Take `address` off the list; gives the row it had, or None when it had none."""
    row = session.get(Suppression, address.lower())
    if row is not None:
        session.delete(row)
        session.flush()
    return row


def as_dict(row: Suppression) -> dict[str, Any]:
    """One suppression for `smartmail suppressed --json`."""
    return {
        "address": row.address,
        "until": row.until.isoformat(),
        "reason": row.reason,
        "case": row.case_id,
        "created_at": row.created_at.isoformat(),
    }


def as_line(row: dict[str, Any]) -> str:
    """One suppression (as `as_dict` gives it) for `smartmail suppressed`: one line."""
    case = f"case {row['case']}" if row["case"] is not None else "no case"
    until = row["until"][:16].replace("T", " ")
    return f"{row['address']}  until {until} UTC  {case}  {row['reason']}"
