"""What a link to follow a case opens: the case as its customer may see it. Read-only.

A link opens its case only when its signature holds for the case's customer and staff
have not withdrawn the case's links since it was made (`#revoke-link`). The customer sees
the number, subject, status and deadline, and the public mail between them and us: their
own mail and what we sent them; never internal notes, nor mail to or from anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from smartmail.mail.links import read_follow_token
from smartmail.store.models import Attachment, Case, Message, Party, RevokedLink


@dataclass(frozen=True)
class Shown:
    direction: str  # in: from the customer; out: from us
    at: datetime
    text: str
    attachments: tuple[str, ...]


@dataclass(frozen=True)
class Followed:
    number: int
    subject: str
    status: str
    due_at: datetime | None
    customer: str
    customer_name: str
    messages: tuple[Shown, ...]


def followed_case(session: Session, token: str, secret: bytes) -> Followed | None:
    """The case `token` opens, or None for a wrong, altered or withdrawn one."""
    found = read_follow_token(token)
    if found is None:
        return None
    case = session.get(Case, found.number)
    customer = session.get(Party, case.customer_id) if case and case.customer_id else None
    if case is None or customer is None or not found.genuine_for(customer.email, secret):
        return None
    revoked = session.exec(
        select(func.max(RevokedLink.revoked_at)).where(RevokedLink.case_id == case.number)
    ).one()
    if revoked is not None and revoked.timestamp() >= found.issued.timestamp():
        return None
    return Followed(
        number=case.number,
        subject=case.subject,
        status=case.status,
        due_at=case.due_at,
        customer=customer.email,
        customer_name=customer.name,
        messages=tuple(_shown(session, case, customer.email)),
    )


def _shown(session: Session, case: Case, customer: str) -> list[Shown]:
    messages = session.exec(
        select(Message)
        .where(Message.case_id == case.number, Message.visibility == "public")
        .order_by(col(Message.id))
    ).all()
    shown = []
    for message in messages:
        theirs = message.direction == "in" and message.from_addr == customer
        to_them = message.direction == "out" and customer in message.to_addrs.split(",")
        if not (theirs or to_them):
            continue
        names = session.exec(
            select(Attachment.filename).where(Attachment.message_pk == message.id)
        ).all()
        shown.append(Shown(message.direction, message.created_at, message.text, tuple(names)))
    return shown
