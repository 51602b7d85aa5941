"""Carries out the commands of one proven mail, case by case, through `cases`; reports back.

Every command is checked against who sent it (commands.refusal) and against the rules
(a known person, priority, category, contractor) before anything changes. A command that
fails says why; the others still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlmodel import Session, col, select

from smartmail.desk import (
    access,
    cases,
    habits,
    notify,
    on_call,
    queries,
    search,
    search_filters,
    sla,
)
from smartmail.desk.commands import Amount, Command, Due, Standing, Tagged, refusal
from smartmail.desk.report import Block, Report
from smartmail.mail.phrases import N_, Phrase, local_time, phrase, status
from smartmail.rules.model import Route, Rules
from smartmail.store.models import CLOSED_STATUSES, Case, Event, Message, Party, TimeEntry


class CommandFailed(Exception):
    """A command that cannot be carried out; the phrase goes back to the sender."""

    def __init__(self, why: Phrase) -> None:
        super().__init__(why.render("en"))
        self.why = why


@dataclass
class Steering:
    session: Session
    rules: Rules
    ctx: notify.Context
    sender: Party
    role: str
    message: Message
    now: datetime
    answering: int | None = None  # the case this mail's answer goes to, if it has one
    report: Report = field(default_factory=Report)
    folded: dict[int, str] = field(default_factory=dict)  # case -> status told in the answer
    released: list[tuple[Case, Message]] = field(default_factory=list)  # what #send lets go
    canned: dict[int, tuple[Case, str]] = field(default_factory=dict)  # #reply: case, text

    @property
    def actor(self) -> str:
        return self.sender.email

    # -- entry -----------------------------------------------------------------------------

    def run(self, tagged: Tagged, case: Case | None) -> Report:
        self.report.problems.extend(
            phrase("{line}: {why}", line=p.line, why=p.message) for p in tagged.problems
        )
        for command in tagged.queries():
            self._query(command)
        for command in habits.opening(tagged):  # left when the mail opened no case
            self._problem(command, refusal(command, Standing(self.role)) or habits.NOT_OPENED)
        targets = self._targets(tagged, case)
        for command in tagged.acting():
            if not targets:
                self._problem(
                    command, phrase(N_("which case? Answer a mail about the case, or #cases N"))
                )
            for target in targets:
                self._act(command, target)
        if tagged.is_note and case is not None:
            self.report.changes.append(
                phrase(
                    N_(
                        "case {number}: your text was saved as an internal note; "
                        "the customer does not see it"
                    ),
                    number=case.number,
                )
            )
        if self.report.problems:  # what was wrong, and what is allowed
            self.report.help_for = self.role
        return self.report

    def _targets(self, tagged: Tagged, case: Case | None) -> list[Case]:
        if not tagged.bulk:
            return [case] if case is not None else []
        found = []
        for number in tagged.bulk:
            target = self.session.get(Case, number)
            if target is None:
                self.report.problems.append(
                    phrase(N_("#cases: there is no case {number}"), number=number)
                )
            else:
                found.append(target)
        return found

    def _problem(self, command: Command, why: Phrase, case: Case | None = None) -> None:
        if case is None:
            self.report.problems.append(phrase("{line}: {why}", line=command.line, why=why))
            return
        self.report.problems.append(
            phrase(
                N_("case {number}: {line}: {why}"), number=case.number, line=command.line, why=why
            )
        )

    def _standing(self, case: Case | None) -> Standing:
        if case is None:
            return Standing(self.role)
        return Standing(
            self.role,
            own_case=cases.is_customer(case, self.sender),
            forwarded_to_them=cases.has_role(self.session, case, self.actor, "contractor"),
        )

    # -- queries ---------------------------------------------------------------------------

    def _query(self, command: Command) -> None:
        why = refusal(command, self._standing(None))
        if why:
            self._problem(command, why)
            return
        tz = self.rules.calendar.timezone
        if command.name == "help":
            self.report.help_for = self.role
        elif command.name == "mine":
            lines = queries.mine(self.session, self.actor, self.role, self.now, tz)
            title = phrase(N_("#mine"))
            self.report.answers.append(Block(title, list(lines), phrase(N_("no open cases"))))
        elif command.name == "new":
            lines = queries.new_cases(self.session, self.now, tz)
            empty = phrase(N_("no new cases without an owner"))
            self.report.answers.append(Block(phrase(N_("#new")), list(lines), empty))
        elif command.name == "case":
            target = self.session.get(Case, command.value)
            if target is None:
                self._problem(command, _no_case(command.value))
                return
            lines = queries.timeline(self.session, target, self.now, tz)
            customer = target.customer.email if target.customer else ""
            access.record(
                self.session, self.actor, "#case", self.now, case=target.number, person=customer
            )
            title = phrase(N_("#case {number}"), number=target.number)
            self.report.answers.append(Block(title, list(lines)))
        elif command.name == "search":
            self._search(command)

    def _search(self, command: Command) -> None:
        try:
            filters = search_filters.parse_filters(str(command.value))
            owners = search.resolve_owners(filters, self.rules, self.actor)
        except search_filters.BadFilter as exc:
            self._problem(command, exc.phrase)
            return
        found = search.find(self.session, filters, owners, self.rules.calendar.timezone)
        title = phrase(
            N_("#search {query}: {total} cases"), query=str(command.value), total=found.total
        )
        lines = search.answer_lines(self.session, found, self.now)
        for case in found.cases:  # each case in the answer is a read of it (access log)
            customer = case.customer.email if case.customer else ""
            access.record(
                self.session, self.actor, "#search", self.now, case=case.number, person=customer
            )
        self.report.answers.append(Block(title, list(lines), phrase(N_("no case matches"))))

    # -- acting on a case ------------------------------------------------------------------

    def _act(self, command: Command, case: Case) -> None:
        why = refusal(command, self._standing(case))
        if why:
            self._problem(command, why, case)
            return
        try:
            change = _ACTIONS[command.name](self, command, case)
        except (CommandFailed, habits.NotDone) as exc:
            self._problem(command, exc.why, case)
            return
        self.report.changes.append(
            phrase(N_("case {number}: {change}"), number=case.number, change=change)
        )

    def _assign(self, command: Command, case: Case) -> Phrase:
        target = str(command.value).strip().lower()
        if target in ("me", "mig", "jag"):
            target = self.actor
        team = self.rules.teams.get(target) or next(
            (t for name, t in self.rules.teams.items() if name.lower() == target), None
        )
        if team is not None:
            owner, team_name = cases.pick_owner(self.session, self.rules, team.name)
        else:
            owner, team_name = self._staff_member(target), ""
        previous = case.assignee
        cases.assign(
            self.session, case, owner, team_name, self.actor, self.now, self.message, self.rules
        )
        if previous and owner and previous != owner:  # the old owner keeps following it
            habits.keep_watching(self, case, previous)
        if owner and owner != self.actor:
            notify.assigned(self.ctx, self.session, case, self.actor, self.now)
        if not owner:
            return phrase(N_("assigned to nobody"))
        if team_name:
            return phrase(N_("assigned to {owner} (team {team})"), owner=owner, team=team_name)
        return phrase(N_("assigned to {owner}"), owner=owner)

    def _take(self, command: Command, case: Case) -> Phrase:
        on_call.take(self.session, self.rules, case, self.actor, "mail", self.now, self.message)
        return phrase(N_("taken: the case is yours"))

    def _staff_member(self, target: str) -> str:
        person = self.rules.person(target) or next(
            (p for p in self.rules.people if p.name.lower() == target), None
        )
        if person is None:
            raise CommandFailed(
                phrase(N_("{target} is no person or team in the rules"), target=target)
            )
        if person.role == "contractor":
            raise CommandFailed(
                phrase(N_("{person} is a contractor: use #forward"), person=person.email)
            )
        return person.email

    def _status(self, command: Command, case: Case) -> Phrase:
        wanted = str(command.value)
        if case.status in CLOSED_STATUSES and wanted not in CLOSED_STATUSES:
            cases.reopen(self.session, case, self.actor, self.now, self.message, self.rules)
        cases.set_status(self.session, case, wanted, self.actor, self.now, self.message, self.rules)
        if wanted == "resolved":
            self._tell_customer(case, "resolved")
        return phrase(N_("status {status}"), status=status(wanted))

    def _tell_customer(self, case: Case, outcome: str) -> None:
        """The customer hears of a resolution: in the answer this mail sends, else alone."""
        if case.number == self.answering:
            self.folded[case.number] = outcome
        elif outcome == "resolved":
            notify.resolved(self.ctx, self.session, case, self.now)

    def _close(self, command: Command, case: Case) -> Phrase:
        cases.set_status(self.session, case, "closed", self.actor, self.now, self.message)
        self._tell_customer(case, "closed")
        return phrase(N_("closed"))

    def _reopen(self, command: Command, case: Case) -> Phrase:
        if case.status not in CLOSED_STATUSES:
            raise CommandFailed(
                phrase(
                    N_("the case is {status}, not resolved or closed"), status=status(case.status)
                )
            )
        cases.reopen(self.session, case, self.actor, self.now, self.message, self.rules)
        return phrase(N_("reopened ({status})"), status=status(case.status))

    def _priority(self, command: Command, case: Case) -> Phrase:
        wanted = str(command.value).strip().lower()
        names = {p.name.lower(): p.name for p in self.rules.priorities}
        if wanted not in names:
            raise CommandFailed(
                phrase(
                    N_("unknown priority; the rules have: {names}"),
                    names=", ".join(names.values()),
                )
            )
        cases.set_priority(
            self.session, case, names[wanted], self.rules, self.actor, self.now, self.message
        )
        return phrase(
            N_("priority {priority}, due {due}"),
            priority=names[wanted],
            due=self._local(case.due_at),
        )

    def _category(self, command: Command, case: Case) -> Phrase:
        category, _, group = str(command.value).partition("/")
        route = _find_route(self.rules, category.strip(), group.strip())
        if route is None:
            raise CommandFailed(phrase(N_("no such category/group in the rules")))
        cases.set_category(
            self.session, case, route, self.rules, self.actor, self.now, self.message
        )
        return phrase(
            N_("category {category}, priority {priority}"),
            category=f"{route.category}/{route.group}",
            priority=case.priority,
        )

    def _due(self, command: Command, case: Case) -> Phrase:
        assert isinstance(command.value, Due)
        due = self._deadline(command.value, case)
        cases.set_due(self.session, case, due, self.actor, self.now, self.message)
        return phrase(N_("due {due}"), due=self._local(due))

    def _deadline(self, due: Due, case: Case) -> datetime:
        calendar = self.rules.calendar
        if due.after is not None:
            known = {p.name: p.clock for p in self.rules.priorities}
            clock = known.get(case.priority, "always")  # a priority the rules dropped
            return sla.add_duration(self.now, due.after, clock, calendar)
        assert due.on is not None
        at = due.at or _closing_time(self.rules, due.on.weekday())
        moment = datetime.combine(due.on, at, tzinfo=calendar.timezone)
        if moment <= self.now:
            raise CommandFailed(phrase(N_("that is already past")))
        return moment

    def _forward(self, command: Command, case: Case) -> Phrase:
        target = str(command.value).strip().lower()
        person = self.rules.person(target) or next(
            (p for p in self.rules.people if p.name.lower() == target), None
        )
        if person is None or person.role != "contractor":
            contractors = ", ".join(p.email for p in self.rules.people if p.role == "contractor")
            raise CommandFailed(
                phrase(
                    N_("not a contractor in the rules; they are: {contractors}"),
                    contractors=contractors,
                )
            )
        contractor = cases.party_for(self.session, person.email, person.name, self.now)
        cases.forward(self.session, case, contractor, self.actor, self.now, self.message)
        notify.job(self.ctx, self.session, case, person.email, self.now)
        return phrase(N_("forwarded to {contractor}"), contractor=person.name or person.email)

    def _time(self, command: Command, case: Case) -> Phrase:
        assert isinstance(command.value, timedelta)
        minutes = int(command.value.total_seconds() // 60)
        entry = TimeEntry(case_id=case.number, actor=self.actor, minutes=minutes, text=command.text)
        cases.log_work(self.session, case, entry, self.actor, self.now, self.message)
        return phrase(
            N_("time {hours}h{minutes:02d}m logged"), hours=minutes // 60, minutes=minutes % 60
        )

    def _material(self, command: Command, case: Case) -> Phrase:
        assert isinstance(command.value, Amount)
        value = command.value
        entry = TimeEntry(
            case_id=case.number,
            actor=self.actor,
            material=value.text,
            amount=value.value,
            quantity=value.quantity,
            unit=value.unit,
            unit_price=value.unit_price,
        )
        cases.log_work(self.session, case, entry, self.actor, self.now, self.message)
        if value.quantity is not None:
            return phrase(
                N_("material {material} {quantity:g} {unit} at {price:.2f}, {amount:.2f}, logged"),
                material=value.text,
                quantity=value.quantity,
                unit=value.unit,
                price=value.unit_price or 0.0,
                amount=value.value,
            )
        return phrase(
            N_("material {material} {amount:.2f} logged"), material=value.text, amount=value.value
        )

    def _merge(self, command: Command, case: Case) -> Phrase:
        other = self._other(command, case)
        cases.merge(self.session, case, other, self.actor, self.now, self.message)
        return phrase(N_("merged into case {other}"), other=other.number)

    def _link(self, command: Command, case: Case) -> Phrase:
        other = self._other(command, case)
        cases.link(self.session, case, other, self.actor, self.now, self.message)
        return phrase(N_("linked to case {other}"), other=other.number)

    def _other(self, command: Command, case: Case) -> Case:
        other = self.session.get(Case, command.value)
        if other is None:
            raise CommandFailed(_no_case(command.value))
        if other.number == case.number:
            raise CommandFailed(phrase(N_("that is this case")))
        return other

    def _revoke_link(self, command: Command, case: Case) -> Phrase:
        cases.revoke_links(self.session, case, self.actor, self.now, self.message)
        return phrase(N_("the web links to follow the case were withdrawn"))

    def _send(self, command: Command, case: Case) -> Phrase:
        """Let go the sender's latest answer on the case that we held back."""
        held = held_answer(self.session, case, self.actor)
        if held is None:
            raise CommandFailed(phrase(N_("nothing of yours is held back on this case")))
        cases.record_event(
            self.session,
            case,
            "answer_released",
            self.actor,
            self.now,
            self.message,
            held=held.message_id,
        )
        self.released.append((case, held))
        return phrase(N_("your held text goes to the customer"))

    def _hold(self, command: Command, case: Case) -> Phrase:
        on = command.value == "on"
        changed = cases.set_hold(self.session, case, on, self.actor, self.now, self.message)
        if on:
            return (
                phrase(N_("on legal hold: never erased until #hold off"))
                if changed
                else (phrase(N_("already on legal hold")))
            )
        return phrase(N_("legal hold lifted")) if changed else phrase(N_("was not on legal hold"))

    def _reply(self, command: Command, case: Case) -> Phrase:
        """A canned answer to the customer, rendered with the case; the mail's own text
        follows it (pipeline/steer.py relays the two as one answer)."""
        replies = self.rules.replies
        reply = replies.find(str(command.value))
        if reply is None:
            names = ", ".join(replies.names()) or "-"
            raise CommandFailed(
                phrase(
                    N_(
                        "no canned answer is called {name}; there are: {names}. "
                        "Your text was NOT sent to the customer"
                    ),
                    name=str(command.value),
                    names=names,
                )
            )
        customer = case.customer
        owner = self.rules.person(case.assignee or "")
        values = {
            "number": case.number,
            "customer_name": customer.name if customer else "",
            "deadline": self._local(case.due_at),
            "owner_name": (owner.name if owner else "") or case.assignee or "",
        }
        language = self.ctx.language_for(customer.email if customer else "")
        self.canned[case.number] = (case, replies.render(reply, language, values))
        cases.record_event(
            self.session, case, "canned_answer", self.actor, self.now, self.message, name=reply.name
        )
        return phrase(N_("canned answer {name} goes to the customer"), name=reply.name)

    def _local(self, moment: datetime | None) -> str:
        return local_time(moment, self.rules.calendar.timezone)


_ACTIONS: dict[str, Callable[[Steering, Command, Case], Phrase]] = {
    "assign": Steering._assign,
    "status": Steering._status,
    "close": Steering._close,
    "reopen": Steering._reopen,
    "priority": Steering._priority,
    "category": Steering._category,
    "due": Steering._due,
    "forward": Steering._forward,
    "time": Steering._time,
    "material": Steering._material,
    "merge": Steering._merge,
    "link": Steering._link,
    "send": Steering._send,
    "take": Steering._take,
    "channel": habits.channel,
    "label": habits.label,
    "type": habits.kind,
    "watch": habits.watch,
    "unwatch": habits.unwatch,
    "revoke-link": Steering._revoke_link,
    "hold": Steering._hold,
    "reply": Steering._reply,
}


def _no_case(number: object) -> Phrase:
    return phrase(N_("there is no case {number}"), number=str(number))


def held_answer(session: Session, case: Case, actor: str) -> Message | None:
    """The actor's latest answer on `case` that was held back and not yet let go."""
    query = (
        select(Event)
        .where(
            Event.case_id == case.number,
            Event.actor == actor,
            col(Event.kind).in_(("answer_held", "answer_released")),
        )
        .order_by(col(Event.id).desc())
        .limit(1)
    )
    latest = session.exec(query).first()
    if latest is None or latest.kind != "answer_held" or latest.message_pk is None:
        return None
    return session.get(Message, latest.message_pk)


def _closing_time(rules: Rules, weekday: int) -> time:
    spans = rules.calendar.business_hours.get(weekday, ())
    return spans[-1][1] if spans else time(23, 59)


def _find_route(rules: Rules, category: str, group: str) -> Route | None:
    category, group = category.casefold(), group.casefold()
    for candidate in rules.groups:
        if candidate.category.casefold() != category:
            continue
        if group and candidate.name.casefold() != group:
            continue
        return Route(
            candidate.category,
            candidate.name,
            candidate.recipient,
            candidate.priority,
            "set by #category",
        )
    return None
