"""A mail whose Message-ID we hold: the same mail again, or another mail under that ID?

The unique Message-ID is what stores a resend once and answers it once (a server that
retries after a lost 250, the same mail by SMTP and by IMAP). But some senders reuse IDs
(scripts, old phones, bulk tools), and a different mail under a known ID must not be
dropped: it is kept under an ID of its own, made from the ID and its content, so that its
own resends are caught as well.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import bindparam
from sqlmodel import Session, select

from smartmail.mail.parse import ParsedMail, body_of, content_id
from smartmail.store import prepared
from smartmail.store.models import Message, RawMail

Seen = Literal["new", "resent", "reused"]

_EARLIER = select(Message.direction, Message.from_addr, Message.subject, Message.raw_sha256).where(
    Message.message_id == bindparam("message_id")
)
_KEPT = select(RawMail.data).where(RawMail.sha256 == bindparam("sha"))


def seen(session: Session, mail: ParsedMail, raw: bytes, sha: str) -> Seen:
    """Whether `mail` (`raw`, whose digest is `sha`) is new here, resent, or reuses an ID."""
    found = prepared.rows(session, _EARLIER, message_id=mail.message_id)
    if not found:
        return "new"
    direction, from_addr, subject, earlier_sha = found[0]
    if earlier_sha == sha:
        return "resent"
    if direction != "in" or (from_addr, subject) != (mail.from_addr, mail.subject):
        return "reused"
    earlier = prepared.first(session, _KEPT, sha=earlier_sha)
    return "resent" if earlier is not None and same_body(earlier, raw) else "reused"


def same_body(earlier: bytes, raw: bytes) -> bool:
    """Whether two mails have the same body: what a second delivery adds or changes (Received,
    Delivered-To, Return-Path, a gateway's stamps) is all in the header."""
    return body_of(earlier) == body_of(raw)


def own_id(mail: ParsedMail, raw: bytes) -> str:
    """The ID a mail reusing another's is kept under: the same for each of its resends."""
    return content_id((mail.message_id, mail.from_addr, mail.subject), raw, "reused.smartmail")
