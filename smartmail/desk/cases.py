"""The only place that changes a case; every change leaves an Event (who, what, which message)."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from smartmail.desk import sla, suppressions
from smartmail.rules.model import Route, Rules
from smartmail.store import prepared, search
from smartmail.store.db import add_written, insert_object, insert_row, load, new_row
from smartmail.store.models import (
    OPEN_STATUSES,
    Case,
    CaseLabel,
    CaseParty,
    Event,
    Message,
    Party,
    RevokedLink,
    TimeEntry,
    UTCDateTime,
)

SYSTEM = "system"

# Statements for every mail, built once: building one costs more than running it.
_IS_PARTY = (
    select(CaseParty.case_id)
    .join(Party, col(Party.id) == col(CaseParty.party_id))
    .where(CaseParty.case_id == bindparam("case"), Party.email == bindparam("email"))
)
_TAKES_PART = select(CaseParty.case_id).where(
    CaseParty.case_id == bindparam("case"),
    CaseParty.party_id == bindparam("party"),
    CaseParty.role == bindparam("role"),
)
_LAST_OF_TEAM = (
    select(Case.assignee)
    .where(Case.team == bindparam("team"), col(Case.assignee).is_not(None))
    .order_by(col(Case.id).desc())
    .limit(1)
)
_TOUCH = (
    update(Case)
    .where(col(Case.id) == bindparam("case"))
    .values(updated_at=bindparam("now", type_=UTCDateTime()))
)


def record_event(
    session: Session,
    case: Case,
    kind: str,
    actor: str,
    now: datetime,
    message: Message | None = None,
    **detail: Any,
) -> None:
    message_pk = message.id if message is not None else None
    assert message is None or message_pk is not None, "a message is stored before its events"
    _write_event(session, case, kind, actor, now, message_pk, detail)


def _write_event(
    session: Session,
    case: Case,
    kind: str,
    actor: str,
    now: datetime,
    message_pk: int | None,
    detail: dict[str, Any],
) -> None:
    row = {
        "case_id": case.number,
        "at": now,
        "actor": actor,
        "kind": kind,
        "detail": json.dumps(detail, ensure_ascii=False, default=str) if detail else "",
        "message_pk": message_pk,
    }
    insert_row(session, Event, row)


def _store_message(session: Session, case: Case, message: Message) -> None:
    """Write `message` on `case`: it is in the database from here on, with its id."""
    message.case_id = case.number
    insert_object(session, message)
    search.index_message(session, case.number, message.subject, message.text, message.automatic)


def party_for(session: Session, email: str, name: str, now: datetime) -> Party:
    """The party with this address, created on first sight; a better name replaces none."""
    email = email.lower()
    with session.no_autoflush:  # a new party is written at once; changes to cases can wait
        party = load(session, Party, email=email)
    if party is None:
        party = new_row(Party, email=email, name=name, created_at=now)
        add_written(session, party)
    elif name and not party.name:
        party.name = name
    return party


def is_customer(case: Case, party: Party) -> bool:
    return party.id is not None and case.customer_id == party.id


def is_party(session: Session, case: Case, email: str) -> bool:
    found = prepared.first(session, _IS_PARTY, case=case.number, email=email.lower())
    return found is not None


def _join(session: Session, case: Case, party: Party, role: str, *, look: bool = True) -> None:
    """`party` takes part in `case` as `role`; look=False: the case is new, nobody is in yet."""
    if look and _takes_part(session, case, party, role):
        return
    insert_row(session, CaseParty, {"case_id": case.number, "party_id": party.id, "role": role})


def _takes_part(session: Session, case: Case, party: Party, role: str) -> bool:
    found = prepared.first(session, _TAKES_PART, case=case.number, party=party.id, role=role)
    return found is not None


def pick_owner(session: Session, rules: Rules, recipient: str) -> tuple[str | None, str]:
    """(owner, team): a person is the owner; a team gives one member by its policy.

    A contractor owns nothing: the case is forwarded to them and waits for a staff owner.
    """
    team = rules.teams.get(recipient)
    if team is None:
        if rules.role_of(recipient) == "contractor":
            return None, ""
        return recipient.lower(), ""
    if not team.members:
        return None, team.name
    if team.assign == "round_robin":
        return _next_in_turn(session, team.name, team.members), team.name
    return _least_loaded(session, team.members), team.name


def _least_loaded(session: Session, members: tuple[str, ...]) -> str:
    load = dict(prepared.rows(session, _load(members)))
    # min() keeps the first of equals: ties go to the member listed first
    return min(members, key=lambda member: load.get(member, 0))


@functools.lru_cache(maxsize=64)
def _load(members: tuple[str, ...]) -> Any:
    """Open cases per member; one statement per team, its members written into it."""
    return (
        select(Case.assignee, func.count())
        .where(col(Case.assignee).in_(members), col(Case.status).in_(OPEN_STATUSES))
        .group_by(col(Case.assignee))
    )


def _next_in_turn(session: Session, team: str, members: tuple[str, ...]) -> str:
    last = prepared.first(session, _LAST_OF_TEAM, team=team)
    if last not in members:
        return members[0]
    return members[(members.index(last) + 1) % len(members)]


def open_case(
    session: Session,
    *,
    subject: str,
    customer: Party,
    channel: str,
    route: Route,
    rules: Rules,
    message: Message,
    now: datetime,
) -> Case:
    """A new case from `message`, routed, timed and owned; `message` is attached to it."""
    priority = rules.priority(route.priority)
    respond_due, resolve_due = sla.deadlines(now, priority, rules.calendar)
    with session.no_autoflush:  # what is pending (the customer, say) changes no one's load
        owner, team = pick_owner(session, rules, route.recipient)
    case = new_row(
        Case,
        subject=subject,
        status="assigned" if owner else "new",
        priority=priority.name,
        category=route.category,
        group=route.group,
        assignee=owner,
        team=team,
        customer_id=customer.id,
        channel=channel,
        type=route.type,
        route_reason=route.reason,
        created_at=now,
        updated_at=now,
        respond_due_at=respond_due,
        due_at=resolve_due,
    )
    add_written(session, case)  # numbered now: the number goes into every mail about it
    # As loaded with it: the session holds its objects weakly, and would read the customer
    # again when the mails about the new case need them.
    set_committed_value(case, "customer", customer)
    _join(session, case, customer, "customer", look=False)
    _store_message(session, case, message)
    record_event(session, case, "created", customer.email, now, message, channel=channel)
    record_event(
        session,
        case,
        "routed",
        SYSTEM,
        now,
        message,
        category=route.category,
        group=route.group,
        priority=priority.name,
        reason=route.reason,
        **({"type": route.type} if route.type else {}),
        **({"labels": list(route.labels)} if route.labels else {}),
    )
    for label in route.labels:
        insert_row(session, CaseLabel, {"case_id": case.number, "label": label})
    if owner:
        owner_party = party_for(session, owner, _name_of(rules, owner), now)
        _join(session, case, owner_party, "owner", look=False)
        record_event(session, case, "assigned", SYSTEM, now, message, to=owner, team=team)
    return case


def _name_of(rules: Rules, email: str) -> str:
    person = rules.person(email)
    return person.name if person else ""


def add_inbound(
    session: Session,
    case: Case,
    message: Message,
    sender: Party,
    role: str,
    now: datetime,
    rules: Rules | None = None,
    reopen_on_reply: bool = True,
) -> None:
    """Attach an inbound mail to `case`. A customer's answer reopens a resolved case and
    restarts the clock of a case waiting on them (not when it carries commands: those say
    what is to happen)."""
    _store_message(session, case, message)
    # Writing on a case makes one take part (cc); who the customer is, who owns it and which
    # contractor it was forwarded to are set only by opening, assigning and forwarding.
    _join(session, case, sender, "customer" if is_customer(case, sender) else "cc")
    _touch(session, case, now)
    record_event(
        session, case, "mail_in", sender.email, now, message, visibility=message.visibility
    )
    if role != "customer" or message.automatic or not reopen_on_reply:
        return
    if case.status == "resolved":
        reopen(session, case, sender.email, now, message, rules)
    elif case.status == "feedback":
        back = "assigned" if case.assignee else "new"
        set_status(session, case, back, sender.email, now, message, rules)


def _touch(session: Session, case: Case, now: datetime) -> None:
    """`case.updated_at = now`, written at once: for most replies the only change to the case,
    and the ORM's flush of one column costs several times the UPDATE."""
    prepared.change(session, _TOUCH, case=case.number, now=now)
    set_committed_value(case, "updated_at", now)


def follow_up_of(session: Session, new_case: Case, old_case: Case, now: datetime) -> None:
    """Link a new case to the closed case its mail answered."""
    record_event(session, new_case, "follow_up_of", SYSTEM, now, number=old_case.number)
    record_event(session, old_case, "followed_up_by", SYSTEM, now, number=new_case.number)


def add_outbound(session: Session, case: Case, message: dict[str, Any], now: datetime) -> int:
    """Record a mail we send on `case` (a Message row's values); gives the message's id,
    for the outbox row that goes with it."""
    message_pk: int = insert_row(session, Message, {**message, "case_id": case.number})
    search.index_message(
        session, case.number, message["subject"], message["text"], message["automatic"]
    )
    detail = {"to": message["to_addrs"], "subject": message["subject"]}
    _write_event(session, case, "mail_out", SYSTEM, now, message_pk, detail)
    return message_pk


def note_delivery_failure(
    session: Session, case: Case, recipients: str, error: str, now: datetime
) -> None:
    record_event(session, case, "delivery_failed", SYSTEM, now, to=recipients, error=error)


def add_report(session: Session, case: Case, message: Message, now: datetime) -> None:
    """A report about mail we sent on `case` (a bounce), kept as internal machine mail: it
    makes nobody a party to the case and changes nothing else."""
    message.visibility, message.automatic = "internal", True
    _store_message(session, case, message)
    actor = message.from_addr or SYSTEM
    record_event(session, case, "mail_in", actor, now, message, visibility="internal")


def note_bounce(
    session: Session,
    case: Case,
    message: Message,
    *,
    to: str,
    status: str,
    reason: str,
    permanent: bool,
    now: datetime,
) -> None:
    """A delivery failure reported after our mail left (a bounce or a delivery report)."""
    detail: dict[str, Any] = {"to": to, "error": reason, "status": status}
    detail.update(permanent=permanent, via="bounce")
    record_event(session, case, "delivery_failed", SYSTEM, now, message, **detail)


def suppress(
    session: Session,
    case: Case | None,
    address: str,
    reason: str,
    until: datetime,
    now: datetime,
    message: Message | None = None,
) -> None:
    """No automatic mail to `address` until `until`: our mail to it bounced for good."""
    suppressions.put(session, address, reason, case.number if case else None, until, now)
    if case is not None:
        detail: dict[str, Any] = {"address": address, "until": until}
        record_event(session, case, "suppressed", SYSTEM, now, message, **detail)


def note_skipped(
    session: Session, case: Case, to: str, template: str, until: datetime, now: datetime
) -> None:
    """Automatic mail about `case` not sent: `to` is suppressed until `until`."""
    detail: dict[str, Any] = {"to": to, "template": template, "until": until}
    record_event(session, case, "mail_skipped", SYSTEM, now, reason="suppressed", **detail)


def lift_suppression(session: Session, address: str, now: datetime) -> bool:
    """Automatic mail goes to `address` again; False when it was not suppressed."""
    row = suppressions.remove(session, address)
    if row is None:
        return False
    case = load(session, Case, id=row.case_id) if row.case_id is not None else None
    if case is not None:
        record_event(session, case, "unsuppressed", SYSTEM, now, address=row.address)
    return True


def set_status(
    session: Session,
    case: Case,
    status: str,
    actor: str,
    now: datetime,
    message: Message | None = None,
    rules: Rules | None = None,
) -> None:
    """Move `case` to `status`, stamping when it was resolved or closed.

    While a case waits on the customer (feedback) its clock stands still: leaving feedback
    moves the deadlines on by the time waited, on the priority's clock.
    """
    if status == case.status:
        return
    previous, case.status, case.updated_at = case.status, status, now
    if status == "resolved":
        case.resolved_at = now
    elif status == "closed":
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
    else:
        case.resolved_at = case.closed_at = None
    record_event(session, case, "status", actor, now, message, old=previous, new=status)
    if status == "feedback":
        case.paused_at = now
        record_event(session, case, "clock_paused", actor, now, message)
    elif case.paused_at is not None:
        _resume(session, case, actor, now, message, rules)


def _resume(
    session: Session,
    case: Case,
    actor: str,
    now: datetime,
    message: Message | None,
    rules: Rules | None,
) -> None:
    paused_at, case.paused_at = case.paused_at, None
    assert paused_at is not None
    if rules is None or case.due_at is None:
        return
    clock = _clock(rules, case)
    wall = now - paused_at
    business = sla.business_time_between(paused_at, now, rules.calendar)
    case.waited_seconds += int(wall.total_seconds())
    case.waited_business_seconds += int(business.total_seconds())
    waited = business if clock == "business_hours" else wall
    respond_too = case.first_response_at is None
    case.due_at = _shift(case.due_at, waited, clock, rules)
    if case.respond_due_at and respond_too:
        case.respond_due_at = _shift(case.respond_due_at, waited, clock, rules)
    record_event(
        session, case, "clock_resumed", actor, now, message, waited=str(waited), due=case.due_at
    )


def _clock(rules: Rules, case: Case) -> str:
    known = {p.name: p.clock for p in rules.priorities}
    return known.get(case.priority, "always")  # a priority the rules no longer have


def _shift(moment: datetime, waited: timedelta, clock: str, rules: Rules) -> datetime:
    """`moment` moved on by time spent waiting on the customer, on the case's clock."""
    if clock == "always":
        return moment + waited
    return sla.add_business_time(moment, waited, rules.calendar)


def reopen(
    session: Session,
    case: Case,
    actor: str,
    now: datetime,
    message: Message | None,
    rules: Rules | None = None,
) -> None:
    """Open a resolved or closed case again; counts a reopen."""
    case.reopen_count += 1
    set_status(session, case, "assigned" if case.assignee else "new", actor, now, message, rules)
    record_event(session, case, "reopened", actor, now, message, status=case.status)


def assign(
    session: Session,
    case: Case,
    owner: str | None,
    team: str,
    actor: str,
    now: datetime,
    message: Message | None = None,
    rules: Rules | None = None,
) -> None:
    previous = case.assignee
    case.assignee, case.team, case.updated_at = owner, team or case.team, now
    if owner and case.status == "new":
        case.status = "assigned"
    if owner:
        name = _name_of(rules, owner) if rules else ""
        _join(session, case, party_for(session, owner, name, now), "owner")
    record_event(session, case, "assigned", actor, now, message, to=owner, team=team, old=previous)


def _retime(case: Case, rules: Rules) -> None:
    """Deadlines from the creation time on the case's (new) priority, plus the time the
    case has waited on the customer so far."""
    priority = rules.priority(case.priority)
    respond, due = sla.deadlines(case.created_at, priority, rules.calendar)
    seconds = (
        case.waited_business_seconds if priority.clock == "business_hours" else case.waited_seconds
    )
    waited = timedelta(seconds=seconds)
    case.due_at = _shift(due, waited, priority.clock, rules)
    case.respond_due_at = _shift(respond, waited, priority.clock, rules) if respond else None


def set_priority(
    session: Session,
    case: Case,
    priority: str,
    rules: Rules,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> None:
    previous, case.priority, case.updated_at = case.priority, priority, now
    _retime(case, rules)
    record_event(
        session, case, "priority", actor, now, message, old=previous, new=priority, due=case.due_at
    )


def set_category(
    session: Session,
    case: Case,
    route: Route,
    rules: Rules,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> None:
    """Re-classify: category, group and the group's priority (which re-times the case)."""
    old = f"{case.category}/{case.group}"
    case.category, case.group, case.updated_at = route.category, route.group, now
    record_event(
        session,
        case,
        "category",
        actor,
        now,
        message,
        old=old,
        new=f"{route.category}/{route.group}",
    )
    if route.priority != case.priority:
        set_priority(session, case, route.priority, rules, actor, now, message)


def set_due(
    session: Session,
    case: Case,
    due: datetime,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> None:
    previous, case.due_at, case.updated_at = case.due_at, due, now
    record_event(session, case, "due", actor, now, message, old=previous, new=due)


def forward(
    session: Session,
    case: Case,
    contractor: Party,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> None:
    _join(session, case, contractor, "contractor")
    case.updated_at = now
    record_event(session, case, "forwarded", actor, now, message, to=contractor.email)


def has_role(session: Session, case: Case, email: str, role: str) -> bool:
    statement = (
        select(CaseParty.case_id)
        .join(Party, col(Party.id) == col(CaseParty.party_id))
        .where(
            CaseParty.case_id == case.number, Party.email == email.lower(), CaseParty.role == role
        )
    )
    return session.exec(statement).first() is not None


def log_work(
    session: Session,
    case: Case,
    entry: TimeEntry,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> None:
    """Time worked (minutes) or material used (an amount) on the case, for invoicing."""
    entry.case_id, entry.at, entry.actor = case.number, now, actor
    entry.message_pk = message.id if message is not None else None
    insert_object(session, entry)
    if entry.minutes:
        record_event(
            session, case, "time", actor, now, message, minutes=entry.minutes, text=entry.text
        )
    else:
        record_event(
            session,
            case,
            "material",
            actor,
            now,
            message,
            material=entry.material,
            amount=entry.amount,
            **_each(entry),
        )


def _each(entry: TimeEntry) -> dict[str, Any]:
    """Quantity, unit and unit price, when the material was logged with them."""
    if entry.quantity is None:
        return {}
    return {"quantity": entry.quantity, "unit": entry.unit, "unit_price": entry.unit_price}


def link(
    session: Session, case: Case, other: Case, actor: str, now: datetime, message: Message | None
) -> None:
    record_event(session, case, "linked", actor, now, message, number=other.number)
    record_event(session, other, "linked", actor, now, message, number=case.number)


def merge(
    session: Session, case: Case, into: Case, actor: str, now: datetime, message: Message | None
) -> None:
    """Close `case` as merged into `into`; its parties join `into`, and its mail goes there."""
    for row in session.exec(select(CaseParty).where(CaseParty.case_id == case.number)).all():
        party = session.get(Party, row.party_id)
        if party is not None:
            kept = {"customer": "merged_customer", "contractor": "contractor", "watcher": "watcher"}
            role = kept.get(row.role, "cc")
            _join(session, into, party, role)
    case.merged_into = into.number
    set_status(session, case, "closed", actor, now, message)
    record_event(session, case, "merged_into", actor, now, message, number=into.number)
    record_event(session, into, "merged_from", actor, now, message, number=case.number)


def add_note(
    session: Session, case: Case, message: Message, sender: Party, role: str, now: datetime
) -> None:
    """An internal message on the case (a #note, a contractor's answer)."""
    message.visibility = "internal"
    add_inbound(session, case, message, sender, role, now)


def first_response(session: Session, case: Case, actor: str, now: datetime) -> None:
    if case.first_response_at is None:
        case.first_response_at = now
        record_event(session, case, "first_response", actor, now)


def page_on_call(
    session: Session, case: Case, person: str, now: datetime, message: Message | None, rules: Rules
) -> None:
    """A new urgent case outside office hours: the person on call owns it, and is paged."""
    if case.assignee != person:
        assign(session, case, person, case.team, SYSTEM, now, message, rules)
    record_event(session, case, "on_call", SYSTEM, now, message, to=person)


def take(
    session: Session,
    case: Case,
    person: str,
    via: str,
    now: datetime,
    message: Message | None = None,
    rules: Rules | None = None,
) -> None:
    """`person` takes the case (`#take` by mail, `OK 123` by SMS): it is theirs, and the
    escalation of an unanswered page stops."""
    if case.assignee != person:
        assign(session, case, person, case.team, person, now, message, rules)
    record_event(session, case, "taken", person, now, message, via=via)


def note_on_call_escalation(
    session: Session, case: Case, step: int, to: list[str], now: datetime
) -> None:
    record_event(session, case, "on_call_escalated", SYSTEM, now, step=step + 1, to=to)


def note_sms_failure(session: Session, case: Case, number: str, error: str, now: datetime) -> None:
    record_event(session, case, "sms_failed", SYSTEM, now, to=number, error=error)


def labels_of(session: Session, case: Case) -> list[str]:
    return [row[0] for row in prepared.rows(session, _LABELS, case=case.number)]


_LABELS = (
    select(CaseLabel.label)
    .where(CaseLabel.case_id == bindparam("case"))
    .order_by(col(CaseLabel.label))
)


def set_labels(
    session: Session,
    case: Case,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> tuple[list[str], list[str]]:
    """Add and remove free labels; gives (added, removed): what was not so already."""
    have = set(labels_of(session, case))
    added = [label for label in add if label not in have and label not in remove]
    removed = [label for label in remove if label in have]
    for label in added:
        insert_row(session, CaseLabel, {"case_id": case.number, "label": label})
    if removed:
        gone = delete(CaseLabel).where(
            col(CaseLabel.case_id) == case.number, col(CaseLabel.label).in_(removed)
        )
        session.execute(gone)
    if added or removed:
        case.updated_at = now
        record_event(session, case, "labels", actor, now, message, added=added, removed=removed)
    return added, removed


def set_type(
    session: Session,
    case: Case,
    kind: str,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> None:
    if kind == case.type:
        return
    previous, case.type, case.updated_at = case.type, kind, now
    record_event(session, case, "type", actor, now, message, old=previous, new=kind)


def set_channel(
    session: Session,
    case: Case,
    channel: str,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> None:
    """How the customer reached us (mail, web, phone, visit, letter), as staff say."""
    if channel == case.channel:
        return
    previous, case.channel, case.updated_at = case.channel, channel, now
    record_event(session, case, "channel", actor, now, message, old=previous, new=channel)


_WATCHERS = (
    select(Party.email)
    .join(CaseParty, col(CaseParty.party_id) == col(Party.id))
    .where(CaseParty.case_id == bindparam("case"), CaseParty.role == "watcher")
    .order_by(col(Party.email))
)


def watchers_of(session: Session, case: Case) -> list[str]:
    """The staff who follow the case besides its owner: they get copies of its mail."""
    return [row[0] for row in prepared.rows(session, _WATCHERS, case=case.number)]


def watch(
    session: Session,
    case: Case,
    person: Party,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> bool:
    """`person` follows the case; False when they did already."""
    if _takes_part(session, case, person, "watcher"):
        return False
    _join(session, case, person, "watcher", look=False)
    record_event(session, case, "watching", actor, now, message, who=person.email)
    return True


def unwatch(
    session: Session,
    case: Case,
    person: Party,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> bool:
    """`person` follows the case no more; False when they did not."""
    if not _takes_part(session, case, person, "watcher"):
        return False
    gone = delete(CaseParty).where(
        col(CaseParty.case_id) == case.number,
        col(CaseParty.party_id) == person.id,
        col(CaseParty.role) == "watcher",
    )
    session.execute(gone)
    record_event(session, case, "unwatched", actor, now, message, who=person.email)
    return True


def revoke_links(
    session: Session, case: Case, actor: str, now: datetime, message: Message | None = None
) -> None:
    """Every link to follow `case` made until now opens nothing from now on."""
    insert_row(session, RevokedLink, {"case_id": case.number, "revoked_at": now, "actor": actor})
    record_event(session, case, "link_revoked", actor, now, message)


def set_hold(
    session: Session,
    case: Case,
    on: bool,
    actor: str,
    now: datetime,
    message: Message | None = None,
) -> bool:
    """Legal hold on (or off): a case on hold is never erased. False when it already was."""
    if case.hold == on:
        return False
    case.hold, case.updated_at = on, now
    record_event(session, case, "hold", actor, now, message, on=on)
    return True


ERASED = "[erased]"


def erased(session: Session, case: Case, what: list[str], why: str, now: datetime) -> None:
    """The case's content was erased (`desk.erasure`): its subject and routing reason too;
    its numbers, times and every event's kind stay."""
    case.subject, case.route_reason, case.erased_at = ERASED, ERASED, now
    record_event(session, case, "erased", SYSTEM, now, what=what, why=why)
