"""How an inbound mail is kept: its Message row, and its attachments (the bytes once by
content, a row per part on the message)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from smartmail.errors import TemporaryFailure
from smartmail.mail.parse import ParsedAttachment, ParsedMail
from smartmail.pipeline.envelope import Envelope
from smartmail.store.blobs import BlobStore
from smartmail.store.db import insert_row, new_row
from smartmail.store.models import Attachment, Message


def inbound_row(
    mail: ParsedMail, sha: str, envelope: Envelope, now: datetime, **fields: Any
) -> Message:
    """The Message row of an inbound mail; `fields` say what the step that keeps it knows
    (its text, visibility, thread signal, guard hits)."""
    return new_row(
        Message,
        message_id=mail.message_id,
        direction="in",
        channel=envelope.channel,
        from_addr=mail.from_addr,
        to_addrs=",".join((*mail.to, *mail.cc)),
        subject=mail.subject,
        parse_notes="; ".join(mail.notes),
        raw_sha256=sha,
        created_at=now,
        **fields,
    )


def store_attachments(
    session: Session, blobs: BlobStore, mail: ParsedMail, message: Message
) -> None:
    for part in mail.attachments:
        try:
            digest = _keep(blobs, part)
        except OSError as exc:  # a full or read-only disk: the sender tries again later
            raise TemporaryFailure(f"cannot keep an attachment: {exc}") from exc
        row = {
            "message_pk": message.id,
            "filename": part.filename,
            "content_type": part.content_type,
            "size": part.size,
            "sha256": digest,
        }
        insert_row(session, Attachment, row)


def _keep(blobs: BlobStore, part: ParsedAttachment) -> str:
    """The attachment's bytes in the blob store: a spooled file moved there, once."""
    spooled = part.spooled
    if spooled is None:
        return blobs.put(part.payload)
    if spooled.path == spooled.temp:
        spooled.path = blobs.adopt(spooled.temp, spooled.sha256)
    return spooled.sha256


def discard_spooled(mail: ParsedMail | Exception) -> None:
    """Remove the spooled files of attachments that were not kept (a mail that failed, a
    duplicate); a kept one's file is in the blob store and stays."""
    if isinstance(mail, ParsedMail):
        for part in mail.attachments:
            if part.spooled is not None:
                part.spooled.discard()
