"""A mail's attachments: the bytes kept once by content, a row per part on its message."""

from __future__ import annotations

from sqlmodel import Session

from smartmail.errors import TemporaryFailure
from smartmail.mail.parse import ParsedMail
from smartmail.store.blobs import BlobStore
from smartmail.store.db import insert_row
from smartmail.store.models import Attachment, Message


def store_attachments(
    session: Session, blobs: BlobStore, mail: ParsedMail, message: Message
) -> None:
    for part in mail.attachments:
        try:
            digest = blobs.put(part.payload)
        except OSError as exc:  # a full or read-only disk: the sender tries again later
            raise TemporaryFailure(f"cannot keep an attachment: {exc}") from exc
        row = {
            "message_pk": message.id,
            "filename": part.filename,
            "content_type": part.content_type,
            "size": len(part.payload),
            "sha256": digest,
        }
        insert_row(session, Attachment, row)
