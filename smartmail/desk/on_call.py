"""On call at the desk: a new urgent case paged, its SMS queued, the case taken.

An SMS is an SmsOutbox row written in the same transaction as the case, as mail is an
Outbox row. It waits `HOLD` before it goes, and `BURST_GAP` after the last SMS to the same
person, so that a burst of urgent cases within minutes reaches them as one SMS listing them
(the sender collapses what is queued to one number).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from smartmail.desk import cases, notify
from smartmail.desk.sms_text import CaseFacts, burst_text, page_text
from smartmail.mail import compose
from smartmail.mail.masking import mask
from smartmail.rules.model import Rules
from smartmail.rules.on_call import pages
from smartmail.store.db import insert_row
from smartmail.store.models import Case, Event, Message, Party, SmsOutbox

HOLD = timedelta(seconds=30)
BURST_GAP = timedelta(minutes=5)
ON_CALL_ROLES = ("staff", "manager")


def page_new_case(
    ctx: notify.Context,
    session: Session,
    case: Case,
    machine: bool,
    now: datetime,
    message: Message | None = None,
) -> str | None:
    """The person on call owns a new case of an on-call priority outside the on-call hours,
    and gets an SMS; never for mail a machine sent, nor for mail moved in from an old
    mailbox (sending off): that night is long past. Gives whom it paged."""
    rules = ctx.rules
    quiet = machine or session.info.get(compose.SENDING_OFF)
    person = None if quiet else pages(rules, rules.priority(case.priority), now)
    if person is None:
        return None
    cases.page_on_call(session, case, person, now, message, rules)
    queue_sms(ctx, session, case, person, "page", now)
    return person


def case_facts(session: Session, case: Case) -> CaseFacts:
    customer = session.get(Party, case.customer_id) if case.customer_id else None
    who = (customer.name or customer.email) if customer else ""
    category = " / ".join(filter(None, (case.category, case.group)))
    problem = notify.first_text(session, case)
    return CaseFacts(case.number, case.priority, category, who, problem)


def queue_sms(
    ctx: notify.Context, session: Session, case: Case, email: str, kind: str, now: datetime
) -> bool:
    """An SMS about `case` to a staff member or manager with a phone; False for anyone
    else (a customer, a contractor, someone without a phone): they get mail alone."""
    if session.info.get(compose.SENDING_OFF):  # nothing is written where nothing is sent
        return False
    person = ctx.rules.person(email)
    if person is None or person.role not in ON_CALL_ROLES or not person.phone:
        return False
    # Staff read personal numbers, card numbers and door codes masked, by SMS as by mail.
    facts = case_facts(session, case)
    text = mask(page_text(facts, ctx.language_for(email), kind == "escalation"))
    row = {
        "case_id": case.number,
        "to_email": person.email,
        "to_number": person.phone,
        "kind": kind,
        "text": text,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": _due(session, person.phone, now),
        "last_error": "",
        "created_at": now,
    }
    insert_row(session, SmsOutbox, row)
    return True


def _due(session: Session, number: str, now: datetime) -> datetime:
    """When an SMS queued now may go: after the hold, and a while after the last one."""
    last = session.exec(
        select(func.max(SmsOutbox.sent_at)).where(
            SmsOutbox.to_number == number, SmsOutbox.status == "sent"
        )
    ).one()
    due = now + HOLD
    return max(due, last + BURST_GAP) if last is not None else due


def collapsed_text(session: Session, rules: Rules, rows: Sequence[SmsOutbox]) -> str:
    """One SMS for several queued to one person: each case's number and category."""
    if len(rows) == 1:
        return rows[0].text
    numbers = dict.fromkeys(row.case_id for row in rows if row.case_id is not None)
    found = [session.get(Case, number) for number in numbers]
    facts = [case_facts(session, case) for case in found if case is not None]
    person = rules.person(rows[0].to_email)
    language = (person.language if person else "") or rules.language
    return burst_text(facts, language)


def take(
    session: Session,
    rules: Rules,
    case: Case,
    person: str,
    via: str,
    now: datetime,
    message: Message | None = None,
) -> None:
    """`person` takes `case`: it is theirs, and the SMS still queued about it stay unsent."""
    cases.take(session, case, person, via, now, message, rules)
    session.execute(
        update(SmsOutbox)
        .where(col(SmsOutbox.case_id) == case.number, col(SmsOutbox.status) == "queued")
        .values(status="dropped", last_error=f"taken by {person}")
    )


def was_taken(session: Session, case: Case, since: datetime) -> bool:
    """Whether someone took `case` after `since` (the page)."""
    found = session.exec(
        select(Event.id).where(
            Event.case_id == case.number, Event.kind == "taken", Event.at >= since
        )
    ).first()
    return found is not None
