"""Everything we hold about one address, for a subject access request: as JSON, or as a
zip with the raw mails, the mail we sent them and their attachments. Read-only."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from smartmail.desk import views
from smartmail.store.blobs import BlobStore
from smartmail.store.models import (
    AccessLog,
    Attachment,
    Case,
    CaseParty,
    Event,
    Message,
    Outbox,
    Party,
    RawMail,
    Suppression,
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def gather(session: Session, email: str) -> dict[str, Any]:
    """Parties, cases, messages, attachments, events naming them, outgoing mail to them,
    suppression and access-log rows naming them; {} when we hold nothing."""
    email = email.strip().lower()
    like = f"%{email}%"
    party = session.exec(select(Party).where(Party.email == email)).first()
    messages = session.exec(
        select(Message)
        .where(or_(func.lower(Message.from_addr) == email, func.lower(Message.to_addrs).like(like)))
        .order_by(col(Message.id))
    ).all()
    events = session.exec(
        select(Event)
        .where(or_(col(Event.actor) == email, func.lower(Event.detail).like(like)))
        .order_by(col(Event.id))
    ).all()
    outgoing = session.exec(
        select(Outbox).where(func.lower(Outbox.rcpt_to).like(like)).order_by(col(Outbox.id))
    ).all()
    data: dict[str, Any] = {
        "address": email,
        "party": _party(party),
        "cases": _cases(session, party),
        "messages": [_message(session, m) for m in messages],
        "events": [_event(e) for e in events],
        "outgoing": [_outgoing(o) for o in outgoing],
        "suppression": _suppression(session, email),
        "access_log": _reads(session, email),
    }
    held = any(data[key] for key in ("party", "cases", "messages", "events", "outgoing"))
    return data if held else {}


def _party(party: Party | None) -> dict[str, Any] | None:
    if party is None:
        return None
    return {"email": party.email, "name": party.name, "created_at": _iso(party.created_at)}


def _cases(session: Session, party: Party | None) -> list[dict[str, Any]]:
    if party is None:
        return []
    rows = session.exec(
        select(Case, CaseParty.role)
        .join(CaseParty, col(CaseParty.case_id) == col(Case.id))
        .where(CaseParty.party_id == party.id)
        .order_by(col(Case.id))
    ).all()
    return [{**views.case_summary(session, case), "role": role} for case, role in rows]


def _message(session: Session, message: Message) -> dict[str, Any]:
    shown = views.message_view(session, message)
    shown["case"] = message.case_id
    shown["raw_sha256"] = message.raw_sha256
    shown["attachments"] = [
        {**a, "sha256": row.sha256}
        for a, row in zip(shown["attachments"], _attachments(session, message), strict=True)
    ]
    return shown


def _attachments(session: Session, message: Message) -> list[Attachment]:
    query = select(Attachment).where(Attachment.message_pk == message.id)
    return list(session.exec(query.order_by(col(Attachment.id))).all())


def _event(event: Event) -> dict[str, Any]:
    return {
        "case": event.case_id,
        "at": _iso(event.at),
        "actor": event.actor,
        "kind": event.kind,
        "detail": json.loads(event.detail) if event.detail else {},
    }


def _outgoing(row: Outbox) -> dict[str, Any]:
    return {
        "id": row.id,
        "to": row.rcpt_to,
        "status": row.status,
        "created_at": _iso(row.created_at),
        "sent_at": _iso(row.sent_at),
    }


def _suppression(session: Session, email: str) -> dict[str, Any] | None:
    row = session.get(Suppression, email)
    if row is None:
        return None
    return {"until": _iso(row.until), "reason": row.reason, "case": row.case_id}


def _reads(session: Session, email: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(AccessLog)
        .where(or_(col(AccessLog.person) == email, col(AccessLog.actor) == email))
        .order_by(col(AccessLog.id))
    ).all()
    return [
        {"at": _iso(r.at), "actor": r.actor, "action": r.action, "case": r.case_id} for r in rows
    ]


def export(session: Session, data: dict[str, Any], blobs: BlobStore, target: Path) -> int:
    """`data` (from `gather`) as `person.json` in a zip, with the raw mails they sent
    (`raw/`), the mail we sent them (`sent/`) and their attachments (`attachments/`);
    gives how many files the zip holds."""
    files = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("person.json", json.dumps(data, ensure_ascii=False, indent=2))
        files += 1
        for message in data["messages"]:
            files += _raw_of(session, archive, message)
            for part in message["attachments"]:
                path = blobs.path(part["sha256"])
                if path.exists():
                    archive.write(path, f"attachments/{part['sha256']}")
                    files += 1
        for row in data["outgoing"]:
            body = session.get(Outbox, row["id"])
            if body is not None and body.body:
                archive.writestr(f"sent/{row['id']}.eml", body.body)
                files += 1
    return files


def _raw_of(session: Session, archive: zipfile.ZipFile, message: dict[str, Any]) -> int:
    sha = message.get("raw_sha256")
    if message["direction"] != "in" or not sha:
        return 0
    raw = session.get(RawMail, sha)
    if raw is None or not raw.data:
        return 0
    archive.writestr(f"raw/{sha}.eml", raw.data)
    return 1
