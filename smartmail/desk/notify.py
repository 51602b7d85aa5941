"""Which mail goes to whom when something happens to a case; each becomes an outbox row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_timedelta
from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from smartmail.desk.commands import help_lines
from smartmail.desk.report import Report
from smartmail.mail import compose
from smartmail.mail.compose import Identity, Templates
from smartmail.mail.parse import ParsedAttachment, ParsedMail
from smartmail.mail.tokens import reply_address, tokenized_subject
from smartmail.rules.model import Rules
from smartmail.store import prepared
from smartmail.store.db import insert_row
from smartmail.store.models import Case, CaseParty, Message, Notice, Party

_FIRST_TEXT = (
    select(Message.text)
    .where(Message.case_id == bindparam("case"), Message.direction == "in")
    .order_by(col(Message.id))
    .limit(1)
)
_TOLD = select(Notice.id).where(Notice.key == bindparam("key"))


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
    auto_submitted: str | None,
    answering: ParsedMail | None = None,
    attachments: tuple[ParsedAttachment, ...] = (),
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
    rendered = compose.Rendered(
        tokenized_subject(rendered.subject, case.number, ctx.secret), rendered.body
    )
    msg = compose.compose(
        Identity(ctx.address),
        to=[to],
        rendered=rendered,
        now=now,
        in_reply_to=answering.message_id if answering else None,
        references=list(answering.references) if answering else None,
        reply_to=reply_address(ctx.address, case.number, to, ctx.secret),
        auto_submitted=auto_submitted,
    )
    for part in attachments:
        maintype, _, subtype = part.content_type.partition("/")
        msg.add_attachment(
            part.payload,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=part.filename,
        )
    compose.queue(session, msg, case=case, now=now, template=template, secret=ctx.secret)


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
    customer = case.customer
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
        attachment_names=[a.filename for a in mail.attachments],
        commands=help_lines("staff", ctx.language_for(case.assignee)),
    )


def rules_problem(ctx: Context, session: Session, problem: str, source: str, now: datetime) -> None:
    """Tell every manager that the rules file is broken and the last good rules still run."""
    for manager in ctx.rules.managers():
        rendered = ctx.templates.render(
            ctx.language_for(manager.email),
            "rules_problem",
            ctx.rules.calendar.timezone,
            address=ctx.address,
            source=source,
            problem=problem,
            manager_name=manager.name,
        )
        msg = compose.compose(Identity(ctx.address), to=[manager.email], rendered=rendered, now=now)
        compose.queue(session, msg, case=None, now=now, template="rules_problem", secret=ctx.secret)


def _customer(session: Session, case: Case) -> Party | None:
    return case.customer


def assigned(ctx: Context, session: Session, case: Case, by: str, now: datetime) -> None:
    """Tell the new owner, with the customer's first words and the deadline."""
    if not case.assignee:
        return
    _send(
        ctx,
        session,
        case,
        to=case.assignee,
        template="assigned",
        now=now,
        auto_submitted="auto-generated",
        customer=_customer(session, case),
        by=by,
        text=first_text(session, case),
        commands=help_lines("staff", ctx.language_for(case.assignee)),
    )


def first_text(session: Session, case: Case) -> str:
    """What the customer first wrote: the problem, for owners and contractors."""
    text = prepared.first(session, _FIRST_TEXT, case=case.number)
    return text if text is not None else ""


def job(ctx: Context, session: Session, case: Case, contractor: str, now: datetime) -> None:
    """The contractor's job: problem, contact and deadline; nothing internal."""
    _send(
        ctx,
        session,
        case,
        to=contractor,
        template="job",
        now=now,
        auto_submitted="auto-generated",
        customer=_customer(session, case),
        text=first_text(session, case),
        commands=help_lines("contractor", ctx.language_for(contractor)),
    )


def resolved(ctx: Context, session: Session, case: Case, now: datetime) -> None:
    """The customer hears that their case is resolved; a reply reopens it."""
    _status_to_customer(ctx, session, case, "resolved", now)


def _status_to_customer(
    ctx: Context, session: Session, case: Case, template: str, now: datetime
) -> None:
    customer = _customer(session, case)
    if customer is None or customer.email.endswith("@invalid"):
        return
    _send(
        ctx,
        session,
        case,
        to=customer.email,
        template=template,
        now=now,
        auto_submitted="auto-generated",
        customer_name=customer.name,
    )


def answer(
    ctx: Context,
    session: Session,
    case: Case,
    text: str,
    by: Party,
    now: datetime,
    attachments: tuple[ParsedAttachment, ...] = (),
) -> None:
    """A staff member's public answer, relayed from the function address to the customer,
    and to the customers of cases merged into this one (merging makes it their case too)."""
    for customer in _answered(session, case):
        _send(
            ctx,
            session,
            case,
            to=customer.email,
            template="answer",
            now=now,
            auto_submitted=None,
            attachments=attachments,
            text=text,
            by_name=by.name or by.email,
            customer_name=customer.name,
        )


def _answered(session: Session, case: Case) -> list[Party]:
    query = (
        select(Party)
        .join(CaseParty, col(CaseParty.party_id) == col(Party.id))
        .where(CaseParty.case_id == case.number, CaseParty.role == "merged_customer")
    )
    people = [_customer(session, case), *session.exec(query).all()]
    return [p for p in people if p is not None and p.email and not p.email.endswith("@invalid")]


def tell_owner(
    ctx: Context, session: Session, case: Case, sender: Party, text: str, now: datetime
) -> None:
    """The owner hears of a customer's or contractor's answer (and of what it changed)."""
    if not case.assignee or case.assignee == sender.email:
        return
    _send(
        ctx,
        session,
        case,
        to=case.assignee,
        template="update",
        now=now,
        auto_submitted="auto-generated",
        sender=sender,
        text=text,
    )


def confirmation(
    ctx: Context,
    session: Session,
    case: Case | None,
    to: str,
    subject: str,
    report: Report,
    now: datetime,
    answering: ParsedMail,
) -> None:
    """One short reply after commands: what changed, what did not and why, what was asked."""
    rendered = ctx.templates.render(
        ctx.language_for(to),
        "confirmation",
        ctx.rules.calendar.timezone,
        address=ctx.address,
        subject=subject,
        report=report,
    )
    _reply(ctx, session, case, to, rendered, now, answering, "confirmation")


def unproven(
    ctx: Context, session: Session, case: Case | None, mail: ParsedMail, reason: str, now: datetime
) -> None:
    """Commands that did not count: the real owner of the From address hears why."""
    rendered = ctx.templates.render(
        ctx.language_for(mail.from_addr),
        "unproven",
        ctx.rules.calendar.timezone,
        address=ctx.address,
        subject=mail.subject,
        reason=reason,
    )
    _reply(ctx, session, case, mail.from_addr, rendered, now, mail, "unproven")


def _reply(
    ctx: Context,
    session: Session,
    case: Case | None,
    to: str,
    rendered: compose.Rendered,
    now: datetime,
    answering: ParsedMail,
    template: str,
) -> None:
    number = case.number if case is not None else 0
    if case is not None:
        rendered = compose.Rendered(
            tokenized_subject(rendered.subject, number, ctx.secret), rendered.body
        )
    msg = compose.compose(
        Identity(ctx.address),
        to=[to],
        rendered=rendered,
        now=now,
        in_reply_to=answering.message_id,
        references=list(answering.references),
        reply_to=reply_address(ctx.address, number, to, ctx.secret),
        auto_submitted="auto-replied",
    )
    compose.queue(session, msg, case=case, now=now, template=template, secret=ctx.secret)


def deadline_notice(
    ctx: Context, session: Session, case: Case, to: str, template: str, now: datetime
) -> None:
    """A reminder before the deadline or an escalation after it: how late, who owns it."""
    language = ctx.language_for(to)
    late = now - case.due_at if case.due_at and case.due_at < now else None
    _send(
        ctx,
        session,
        case,
        to=to,
        template=template,
        now=now,
        auto_submitted="auto-generated",
        customer=_customer(session, case),
        late=format_timedelta(late, locale=language) if late else "",
        left=format_timedelta(case.due_at - now, locale=language)
        if case.due_at and not late
        else "",
    )


def auto_closed(ctx: Context, session: Session, case: Case, now: datetime) -> None:
    """The customer hears that their resolved case was closed."""
    _status_to_customer(ctx, session, case, "auto_closed", now)


def digest(
    ctx: Context, session: Session, to: str, template: str, lines: list[str], now: datetime
) -> None:
    """The morning list: not about one case, answered through the person's own address."""
    person = ctx.rules.person(to)
    rendered = ctx.templates.render(
        ctx.language_for(to),
        template,
        ctx.rules.calendar.timezone,
        address=ctx.address,
        lines=lines,
        person_name=person.name if person else "",
    )
    msg = compose.compose(
        Identity(ctx.address),
        to=[to],
        rendered=rendered,
        now=now,
        reply_to=reply_address(ctx.address, 0, to, ctx.secret),
    )
    compose.queue(session, msg, case=None, now=now, template=template, secret=ctx.secret)


def bounced(
    ctx: Context,
    session: Session,
    case: Case,
    *,
    failed: str,
    status: str,
    reason: str,
    until: datetime | None,
    now: datetime,
) -> None:
    """The owner hears once per case and address that our mail to it bounced for good."""
    if not case.assignee:
        return
    key = f"bounce:{case.number}:{failed}"
    if prepared.first(session, _TOLD, key=key) is not None:
        return
    insert_row(session, Notice, {"key": key, "case_id": case.number, "created_at": now})
    _send(
        ctx,
        session,
        case,
        to=case.assignee,
        template="bounce",
        now=now,
        auto_submitted="auto-generated",
        customer=_customer(session, case),
        failed=failed,
        status=status,
        reason=reason,
        until=until,
    )
