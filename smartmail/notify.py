"""Which mail goes to whom when something happens to a case; each becomes an outbox row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from smartmail import mailer
from smartmail.mailer import Identity, Templates
from smartmail.models import Case, Party
from smartmail.parse import ParsedMail
from smartmail.rules import Rules
from smartmail.tokens import reply_address, tokenized_subject


@dataclass(frozen=True)
class Context:
    rules: Rules
    templates: Templates
    address: str
    secret: bytes

    def language_for(self, email: str) -> str:
        person = self.rules.person(email)
        return (person.language if person and person.language else "") or self.rules.language


def _send(
    ctx: Context,
    session: Session,
    case: Case,
    *,
    to: str,
    template: str,
    now: datetime,
    auto_submitted: str,
    answering: ParsedMail | None = None,
    **context: Any,
) -> None:
    rendered = ctx.templates.render(
        ctx.language_for(to),
        template,
        ctx.rules.calendar.timezone,
        case=case,
        address=ctx.address,
        **context,
    )
    rendered = mailer.Rendered(
        tokenized_subject(rendered.subject, case.number, ctx.secret), rendered.body
    )
    msg = mailer.compose(
        Identity(ctx.address),
        to=[to],
        rendered=rendered,
        now=now,
        in_reply_to=answering.message_id if answering else None,
        references=list(answering.references) if answering else None,
        reply_to=reply_address(ctx.address, case.number, to, ctx.secret),
        auto_submitted=auto_submitted,
    )
    mailer.queue(session, msg, case=case, now=now)


def acknowledge(
    ctx: Context, session: Session, case: Case, mail: ParsedMail, now: datetime
) -> None:
    """The customer's receipt: number, how to reply, expected resolution, privacy note."""
    _send(
        ctx,
        session,
        case,
        to=mail.from_addr,
        template="ack",
        now=now,
        auto_submitted="auto-replied",
        answering=mail,
        customer_name=mail.from_name,
    )


def owner_of_new_case(
    ctx: Context, session: Session, case: Case, mail: ParsedMail, now: datetime
) -> None:
    """Tell the owner what the problem is, who reported it and by when it must be done."""
    if not case.assignee:
        return
    customer = session.get(Party, case.customer_id) if case.customer_id else None
    _send(
        ctx,
        session,
        case,
        to=case.assignee,
        template="new_case",
        now=now,
        auto_submitted="auto-generated",
        customer=customer,
        text=mail.text,
        attachments=[a.filename for a in mail.attachments],
    )
