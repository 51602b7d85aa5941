"""Which case a mail belongs to, and the signal that said so.

In this order: our signed reply address, the signed subject token, then References and
In-Reply-To naming a mail of a case the sender is a party to; otherwise a new case. A case
merged into another hands its mail on to the survivor.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from smartmail.desk import cases
from smartmail.mail.parse import ParsedMail
from smartmail.mail.tokens import find_case_number, parse_reply_address
from smartmail.pipeline.envelope import Envelope
from smartmail.store import prepared
from smartmail.store.db import load
from smartmail.store.models import Case, Message

_MAX_MERGE_HOPS = 10


@dataclass(frozen=True)
class Thread:
    """Which case a mail belongs to, and the signal that said so."""

    case: Case | None
    signal: str  # reply_address | token | references | subject (an import) | new
    notes: tuple[str, ...] = field(default=())


def find_thread(
    session: Session,
    mail: ParsedMail,
    envelope: Envelope,
    own_addresses: frozenset[str],
    secret: bytes,
) -> Thread:
    """The mail's case by the first signal that holds; a merged case hands it on."""
    thread = _by_signals(session, mail, envelope, own_addresses, secret)
    case, hops = thread.case, 0
    while case is not None and case.merged_into is not None and hops < _MAX_MERGE_HOPS:
        case, hops = load(session, Case, id=case.merged_into), hops + 1
    if case is not None and hops:
        note = f"merged into case {case.number}"
        return Thread(case, thread.signal, (*thread.notes, note))
    return thread


def _by_signals(
    session: Session,
    mail: ParsedMail,
    envelope: Envelope,
    own_addresses: frozenset[str],
    secret: bytes,
) -> Thread:
    for recipient in (*envelope.rcpt_to, *mail.to, *mail.cc):
        reply = parse_reply_address(recipient)
        if reply and reply.base in own_addresses and reply.proves(mail.from_addr, secret):
            case = load(session, Case, id=reply.number)
            if case is not None:
                return Thread(case, "reply_address")
    number = find_case_number(mail.subject, secret)
    case = load(session, Case, id=number) if number is not None else None
    if case is not None:
        return Thread(case, "token")
    found = _by_references(session, mail)
    if found.case is None and envelope.case_hint is not None:
        hinted = load(session, Case, id=envelope.case_hint)
        if hinted is not None:
            return Thread(hinted, "subject", found.notes)
    return found


def _by_references(session: Session, mail: ParsedMail) -> Thread:
    ids = list(dict.fromkeys((*mail.in_reply_to, *mail.references)))
    if not ids:
        return Thread(None, "new")
    statement = _case_of_messages(prepared.list_size(len(ids)))
    known = prepared.first(session, statement, **prepared.list_values("id", ids))
    case = load(session, Case, id=known) if known is not None else None
    if case is None:
        return Thread(None, "new")
    if mail.from_addr and cases.is_party(session, case, mail.from_addr):
        return Thread(case, "references")
    # A stranger quoting someone else's thread must not write into that case.
    return Thread(None, "new", (f"references case {case.number} but is no party to it",))


@functools.lru_cache(maxsize=16)
def _case_of_messages(size: int) -> Any:
    """The newest case that one of `size` Message-IDs names."""
    return (
        select(Message.case_id)
        .where(
            col(Message.message_id).in_(prepared.list_binds("id", size)),
            col(Message.case_id).is_not(None),
        )
        .order_by(col(Message.id).desc())
        .limit(1)
    )
