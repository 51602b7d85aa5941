"""Which mail goes to whom when something happens to a case; each becomes an outbox row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_timedelta
from sqlalchemy import and_, bindparam, or_
from sqlmodel import Session, col, select

from smartmail.desk import access, cases
from smartmail.desk.commands import help_lines
from smartmail.desk.report import Report
from smartmail.mail import compose, msgid, phrases
from smartmail.mail.compose import Identity, Templates
from smartmail.mail.links import follow_url
from smartmail.mail.masking import mask
from smartmail.mail.parse import ParsedAttachment, ParsedMail
from smartmail.mail.phrases import NC_
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
    web_url: str = ""  # SMARTMAIL_WEB_URL: "" = no links to follow a case

    @property
    def identity(self) -> Identity:
        """Our From: the function address with the office's name (`name` in the rules)."""
        return Identity(self.address, self.rules.name)

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
    if session.info.get(compose.SENDING_OFF):  # nothing is written where nothing is sent
        return
    language = ctx.language_for(to)
    rendered = ctx.templates.render(
        language,
        template,
        ctx.rules.calendar.timezone,
        case=case,
        address=ctx.address,
        status_name=phrases.render(phrases.status(case.status), language),
        **context,
    )
    _queue_mail(
        ctx, session, case, to, rendered, now, answering, template, auto_submitted, attachments
    )


def _queue_mail(
    ctx: Context,
    session: Session,
    case: Case | None,
    to: str,
    rendered: compose.Rendered,
    now: datetime,
    answering: ParsedMail | None,
    template: str,
    auto_submitted: str | None,
    attachments: tuple[ParsedAttachment, ...] = (),
) -> None:
    """One mail to `to` about `case` (or none): the token and no stacked prefixes in its
    subject, threaded, refused and recorded rather than sent when it is unsafe. Staff and
    contractors read personal numbers masked."""
    if session.info.get(compose.SENDING_OFF):
        return
    rendered = for_reader(ctx, to, rendered)
    number = case.number if case is not None else 0
    subject = rendered.subject
    if case is not None:
        subject = tokenized_subject(subject, number, ctx.secret)
    rendered = compose.Rendered(msgid.plain_subject(subject), rendered.body)
    in_reply_to, references = thread_of(session, case, to, answering)
    with compose.refusing(session, case, to=to, template=template, now=now):
        msg = compose.compose(
            ctx.identity,
            to=[to],
            rendered=rendered,
            now=now,
            in_reply_to=in_reply_to,
            references=references,
            reply_to=reply_address(ctx.address, number, to, ctx.secret),
            auto_submitted=auto_submitted,
        )
        for part in attachments:
            maintype, _, subtype = part.content_type.partition("/")
            msg.add_attachment(
                part.read(),  # from its file when it was spooled
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=part.filename,
            )
        compose.queue(session, msg, case=case, now=now, template=template, secret=ctx.secret)


def for_reader(ctx: Context, to: str, rendered: compose.Rendered) -> compose.Rendered:
    """Staff, managers and contractors get personal numbers, card and account numbers and
    door codes masked; the customer reads their own mail as written."""
    if ctx.rules.role_of(to) == "customer":
        return rendered
    return compose.Rendered(mask(rendered.subject), mask(rendered.body))


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
        follow_url=follow_link(ctx, case, mail.from_addr, now),
        privacy=ctx.rules.privacy,
    )


def follow_link(ctx: Context, case: Case, address: str, now: datetime) -> str:
    """The link to follow `case` on the web, for `address`; "" without SMARTMAIL_WEB_URL."""
    if not ctx.web_url or not address:
        return ""
    return follow_url(ctx.web_url, case.number, address, now, ctx.secret)


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
        **_habits(ctx, session, case, case.assignee),
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
        to = manager.email
        with compose.refusing(session, None, to=to, template="rules_problem", now=now):
            msg = compose.compose(ctx.identity, to=[to], rendered=rendered, now=now)
            compose.queue(
                session, msg, case=None, now=now, template="rules_problem", secret=ctx.secret
            )


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
        **_habits(ctx, session, case, case.assignee),
    )


def first_text(session: Session, case: Case) -> str:
    """What the customer first wrote: the problem, for owners and contractors."""
    text = prepared.first(session, _FIRST_TEXT, case=case.number)
    return text if text is not None else ""


def job(ctx: Context, session: Session, case: Case, contractor: str, now: datetime) -> None:
    """The contractor's job: problem, contact and deadline; nothing internal. The access
    log says who received which case's content."""
    customer = _customer(session, case)
    person = customer.email if customer else ""
    access.record(session, contractor, "job", now, case=case.number, person=person)
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
    closing: str = "",
) -> None:
    """A staff member's public answer, relayed from the function address to the customer,
    and to the customers of cases merged into this one (merging makes it their case too).
    `closing` ("resolved" or "closed") says in the same mail that the case is done."""
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
            closing=closing,
        )
    answer_copies(ctx, session, case, text, by, now)


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
    if ctx.rules.role_of(sender.email) == "customer":
        reply_copies(ctx, session, case, sender, text, now)
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
    """One short reply after commands: what changed, what did not and why, what was asked,
    each in the reader's language."""
    language = ctx.language_for(to)
    rendered = ctx.templates.render(
        language,
        "confirmation",
        ctx.rules.calendar.timezone,
        address=ctx.address,
        subject=subject,
        report=report.in_language(language),
    )
    _reply(ctx, session, case, to, rendered, now, answering, "confirmation")


def unproven(
    ctx: Context,
    session: Session,
    case: Case | None,
    mail: ParsedMail,
    reason: phrases.Phrase,
    now: datetime,
    *,
    had_commands: bool = True,
    had_text: bool = False,
) -> None:
    """A mail that did not count: the real owner of the From address hears what it held,
    that nothing changed and nothing went to the customer, why, and what to do."""
    language = ctx.language_for(mail.from_addr)
    rendered = ctx.templates.render(
        language,
        "unproven",
        ctx.rules.calendar.timezone,
        address=ctx.address,
        subject=mail.subject,
        reason=phrases.render(reason, language),
        had_commands=had_commands,
        had_text=had_text,
        number=case.number if case is not None else 0,
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
    _queue_mail(ctx, session, case, to, rendered, now, answering, template, "auto-replied")


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
    ctx: Context,
    session: Session,
    to: str,
    template: str,
    lines: Sequence[phrases.Phrase | str],
    now: datetime,
) -> None:
    """The morning list: not about one case, answered through the person's own address."""
    person = ctx.rules.person(to)
    language = ctx.language_for(to)
    rendered = ctx.templates.render(
        language,
        template,
        ctx.rules.calendar.timezone,
        address=ctx.address,
        lines=phrases.render_all(lines, language),
        person_name=person.name if person else "",
    )
    rendered = for_reader(ctx, to, rendered)
    with compose.refusing(session, None, to=to, template=template, now=now):
        msg = compose.compose(
            ctx.identity,
            to=[to],
            rendered=rendered,
            now=now,
            reply_to=reply_address(ctx.address, 0, to, ctx.secret),
        )
        compose.queue(session, msg, case=None, now=now, template=template, secret=ctx.secret)


# --------------------------------------------------------------------------- threads

# The case's thread starts with the customer's first mail ...
_ROOT_ID = (
    select(Message.message_id)
    .where(Message.case_id == bindparam("case"), Message.direction == "in")
    .order_by(col(Message.id))
    .limit(1)
)
# ... and goes on with the newest mails between us and one person (on the case's index).
_CONVERSATION_IDS = (
    select(Message.message_id)
    .where(
        Message.case_id == bindparam("case"),
        or_(
            and_(col(Message.direction) == "in", col(Message.from_addr) == bindparam("person")),
            and_(col(Message.direction) == "out", col(Message.to_addrs) == bindparam("person")),
        ),
    )
    .order_by(col(Message.id).desc())
    .limit(msgid.MAX_REFERENCES)
)


def thread_of(
    session: Session, case: Case | None, to: str, answering: ParsedMail | None
) -> tuple[str | None, list[str]]:
    """In-Reply-To and References of a mail to `to` about `case`.

    In-Reply-To: the mail being answered, or else the newest mail between us and `to` on
    the case (so notices to one owner follow each other), or else the customer's first
    mail. References: the customer's first mail, then the answered mail's References, or
    the newest mails of `to`'s conversation; compose puts In-Reply-To last. Ids that are
    not valid msg-ids are left out (see `msgid.clean_id`).
    """
    root = prepared.first(session, _ROOT_ID, case=case.number) if case is not None else None
    chain: list[str] = []
    parent = root
    if answering is not None:
        chain, parent = list(answering.references), answering.message_id
    elif case is not None:
        newest = prepared.rows(session, _CONVERSATION_IDS, case=case.number, person=to.lower())
        chain = [row[0] for row in reversed(newest)]
        parent = chain[-1] if chain else root
    references = msgid.references([root, *chain, parent])
    in_reply_to = msgid.clean_id(parent) or (references[-1] if references else None)
    return in_reply_to, references


def delivery_failed(
    ctx: Context, session: Session, case: Case, failed: Message, error: str, now: datetime
) -> None:
    """A mail about the case failed for good: its owner hears to whom, what and why (the
    managers when it has none, or the mail was the owner's own). Never about a notice of
    this kind: two refusing addresses would tell each other forever."""
    if failed.template == "delivery_failed":
        return
    refused = set(failed.to_addrs.split(","))
    owner = [case.assignee] if case.assignee else []
    told = [a for a in owner if a not in refused] or [
        m.email for m in ctx.rules.managers() if m.email not in refused
    ]
    for person in told:
        _send(
            ctx,
            session,
            case,
            to=person,
            template="delivery_failed",
            now=now,
            auto_submitted="auto-generated",
            failed=failed,
            error=error,
        )


def loop_limit(
    ctx: Context,
    session: Session,
    case: Case,
    to: str,
    sender: str,
    mails: int,
    within: str,
    now: datetime,
) -> None:
    """The owner hears once that mail on the case went round in a loop and is held back."""
    _send(
        ctx,
        session,
        case,
        to=to,
        template="loop_limit",
        now=now,
        auto_submitted="auto-generated",
        sender=sender,
        mails=mails,
        within=within,
    )


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


# --------------------------------------------------------------------------- habits

CHANNEL_WORDS = (
    *(NC_("channel", "mail"), NC_("channel", "web"), NC_("channel", "phone")),
    *(NC_("channel", "visit"), NC_("channel", "letter")),
)


def _habits(ctx: Context, session: Session, case: Case, to: str) -> dict[str, Any]:
    """A case's type, labels and channel, for the notices that introduce it to its owner."""
    return {
        "case_type": case.type or "",
        "labels": cases.labels_of(session, case),
        "channel": case.channel,
        "channel_name": phrases.render(phrases.word("channel", case.channel), ctx.language_for(to)),
    }


def _copied_to(session: Session, case: Case, author: str, owner_too: bool) -> list[str]:
    """Who follows the case and gets copies: its watchers (and owner), never the author."""
    people = cases.watchers_of(session, case)
    if owner_too and case.assignee:
        people = [case.assignee, *people]
    else:
        people = [p for p in people if p != case.assignee]  # the owner hears of it anyway
    return [p for p in dict.fromkeys(people) if p != author.lower()]


def reply_copies(
    ctx: Context, session: Session, case: Case, sender: Party, text: str, now: datetime
) -> None:
    """The case's watchers get a copy of what the customer wrote, answerable by them."""
    for watcher in _copied_to(session, case, sender.email, owner_too=False):
        _send(
            ctx,
            session,
            case,
            to=watcher,
            template="update",
            now=now,
            auto_submitted="auto-generated",
            sender=sender,
            text=text,
        )


def answer_copies(
    ctx: Context, session: Session, case: Case, text: str, by: Party, now: datetime
) -> None:
    """A public answer: a copy to the watchers and to the owner, never to its author."""
    for person in _copied_to(session, case, by.email, owner_too=True):
        _send(
            ctx,
            session,
            case,
            to=person,
            template="answer_copy",
            now=now,
            auto_submitted="auto-generated",
            text=text,
            by_name=by.name or by.email,
        )
