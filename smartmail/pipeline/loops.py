"""Mail going round in a loop: what the guard needs to know, and what happens at the limit.

Two crude autoresponders (no Auto-Submitted, a fresh Message-ID, "Re: " and the subject,
answering the Reply-To) answer each other through us without end: a staff member's answers
our notice, that answer goes to the customer, the customer's answers the case, which tells
the staff member again. The rules' `loop_limit` caps the mail per case and per address, each
way, within a time; past it a mail is stored but causes no more mail (guard check
`loop_limit`), the case gets one `loop_limit` event and its owner one notice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from smartmail.desk import cases, notify
from smartmail.mail.guard import LoopCounts
from smartmail.mail.parse import ParsedMail
from smartmail.rules.model import LoopLimit, format_duration
from smartmail.store import prepared
from smartmail.store.models import Case, Event, Message

# A text this short ("Tack!", "OK") may well be written twice by a person.
_MIN_REPEATED_CHARS = 20

_ON_CASE = (
    select(Message.direction, func.count())
    .where(Message.case_id == bindparam("case"), Message.created_at >= bindparam("since"))
    .group_by(col(Message.direction))
)
# What a loop is made of: mail we send because someone wrote. Notices of new cases,
# reminders and digests are left out: on a stormy morning an owner gets many, and their
# own answers must still reach the customers.
ANSWERING_TEMPLATES = ("ack", "answer", "update", "confirmation", "unproven")
_TO_ADDRESS = (
    select(Message.template, func.count())
    .where(
        Message.to_addrs == bindparam("address"),
        Message.direction == "out",
        Message.created_at >= bindparam("since"),
    )
    .group_by(col(Message.template))
)
_FROM_ADDRESS = select(Message.text).where(  # on ix_message_from_in
    Message.from_addr == bindparam("address"),
    Message.direction == "in",
    Message.created_at >= bindparam("since"),
)
_EVENT_SINCE = (
    select(Event.id)
    .where(
        Event.case_id == bindparam("case"),
        Event.kind == "loop_limit",
        Event.at >= bindparam("since"),
    )
    .limit(1)
)
_NOTICE_SINCE = (
    select(Message.id)
    .where(
        Message.to_addrs == bindparam("address"),
        Message.direction == "out",
        Message.template == "loop_limit",
        Message.created_at >= bindparam("since"),
    )
    .limit(1)
)


def recent(
    session: Session, case: Case | None, mail: ParsedMail, since: datetime
) -> tuple[LoopCounts, bool]:
    """The mail on this case and with this sender since `since`, and whether the sender
    sent this mail's text before in that time (a person rarely writes the same twice)."""
    case_in = case_out = 0
    if case is not None:
        for direction, count in prepared.rows(session, _ON_CASE, case=case.number, since=since):
            if direction == "in":
                case_in = int(count)
            else:
                case_out = int(count)
    address = mail.from_addr.lower()
    if not address:
        return LoopCounts(case_in, case_out), False
    sent = sum(
        int(count)
        for template, count in prepared.rows(session, _TO_ADDRESS, address=address, since=since)
        if template in ANSWERING_TEMPLATES
    )
    texts = [
        str(text).strip()
        for (text,) in prepared.rows(session, _FROM_ADDRESS, address=address, since=since)
    ]
    own = {t.strip() for t in (mail.reply_text, mail.text) if len(t.strip()) >= _MIN_REPEATED_CHARS}
    return LoopCounts(case_in, case_out, len(texts), sent), bool(own.intersection(texts))


def limit_reached(
    ctx: notify.Context,
    session: Session,
    case: Case,
    message: Message,
    counts: LoopCounts,
    limit: LoopLimit,
    now: datetime,
) -> None:
    """The case gets one event and its owner (else the managers) one notice per `within`,
    however much more mail the loop brings."""
    since = now - limit.within
    if prepared.first(session, _EVENT_SINCE, case=case.number, since=since) is not None:
        return
    over = ", ".join(counts.over(limit.mails))
    within = format_duration(limit.within)
    cases.record_event(
        session,
        case,
        "loop_limit",
        cases.SYSTEM,
        now,
        message,
        counts=over,
        mails=limit.mails,
        within=within,
    )
    owners = [case.assignee] if case.assignee else [p.email for p in ctx.rules.managers()]
    for owner in owners:
        if prepared.first(session, _NOTICE_SINCE, address=owner, since=since) is None:
            sender = message.from_addr
            notify.loop_limit(ctx, session, case, owner, sender, limit.mails, within, now)
