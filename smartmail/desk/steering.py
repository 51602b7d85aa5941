"""Carries out the commands of one proven mail, case by case, through `cases`; reports back.

Every command is checked against who sent it (commands.refusal) and against the rules
(a known person, priority, category, contractor) before anything changes. A command that
fails says why; the others still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlmodel import Session

from smartmail.desk import cases, notify, queries, sla
from smartmail.desk.commands import Amount, Command, Due, Standing, Tagged, help_lines, refusal
from smartmail.desk.report import Report
from smartmail.rules.model import Route, Rules
from smartmail.store.models import CLOSED_STATUSES, Case, Message, Party, TimeEntry


class CommandFailed(Exception):
    """A command that cannot be carried out; the message goes back to the sender."""


@dataclass
class Steering:
    session: Session
    rules: Rules
    ctx: notify.Context
    sender: Party
    role: str
    message: Message
    now: datetime
    report: Report = field(default_factory=Report)

    @property
    def actor(self) -> str:
        return self.sender.email

    # -- entry -----------------------------------------------------------------------------

    def run(self, tagged: Tagged, case: Case | None) -> Report:
        self.report.problems.extend(f"{p.line}: {p.message}" for p in tagged.problems)
        for command in tagged.queries():
            self._query(command)
        targets = self._targets(tagged, case)
        for command in tagged.acting():
            if not targets:
                self._problem(command, "which case? Answer a mail about the case, or #cases N")
            for target in targets:
                self._act(command, target)
        if self.report.problems:  # what was wrong, and what is allowed
            self.report.help = help_lines(self.role, self.ctx.language_for(self.actor))
        return self.report

    def _targets(self, tagged: Tagged, case: Case | None) -> list[Case]:
        if not tagged.bulk:
            return [case] if case is not None else []
        found = []
        for number in tagged.bulk:
            target = self.session.get(Case, number)
            if target is None:
                self.report.problems.append(f"#cases: there is no case {number}")
            else:
                found.append(target)
        return found

    def _problem(self, command: Command, why: str, case: Case | None = None) -> None:
        where = f"case {case.number}: " if case is not None else ""
        self.report.problems.append(f"{where}{command.line}: {why}")

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
            self.report.help = help_lines(self.role, self.ctx.language_for(self.actor))
        elif command.name == "mine":
            lines = queries.mine(self.session, self.actor, self.role, self.now, tz)
            self.report.answers.append(_block("#mine", lines, "no open cases"))
        elif command.name == "new":
            lines = queries.new_cases(self.session, self.now, tz)
            self.report.answers.append(_block("#new", lines, "no new cases without an owner"))
        elif command.name == "case":
            target = self.session.get(Case, command.value)
            if target is None:
                self._problem(command, f"there is no case {command.value}")
                return
            lines = queries.timeline(self.session, target, self.now, tz)
            self.report.answers.append(_block(f"#case {target.number}", lines, ""))

    # -- acting on a case ------------------------------------------------------------------

    def _act(self, command: Command, case: Case) -> None:
        why = refusal(command, self._standing(case))
        if why:
            self._problem(command, why, case)
            return
        try:
            change = _ACTIONS[command.name](self, command, case)
        except CommandFailed as exc:
            self._problem(command, str(exc), case)
            return
        if change:
            self.report.changes.append(f"case {case.number}: {change}")

    def _assign(self, command: Command, case: Case) -> str:
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
        cases.assign(
            self.session, case, owner, team_name, self.actor, self.now, self.message, self.rules
        )
        if owner and owner != self.actor:
            notify.assigned(self.ctx, self.session, case, self.actor, self.now)
        return f"assigned to {owner or 'nobody'}" + (f" (team {team_name})" if team_name else "")

    def _staff_member(self, target: str) -> str:
        person = self.rules.person(target) or next(
            (p for p in self.rules.people if p.name.lower() == target), None
        )
        if person is None:
            raise CommandFailed(f"{target} is no person or team in the rules")
        if person.role == "contractor":
            raise CommandFailed(f"{person.email} is a contractor: use #forward")
        return person.email

    def _status(self, command: Command, case: Case) -> str:
        status = str(command.value)
        if case.status in CLOSED_STATUSES and status not in CLOSED_STATUSES:
            cases.reopen(self.session, case, self.actor, self.now, self.message, self.rules)
        cases.set_status(self.session, case, status, self.actor, self.now, self.message, self.rules)
        if status == "resolved":
            notify.resolved(self.ctx, self.session, case, self.now)
        return f"status {status}"

    def _close(self, command: Command, case: Case) -> str:
        cases.set_status(self.session, case, "closed", self.actor, self.now, self.message)
        return "closed"

    def _reopen(self, command: Command, case: Case) -> str:
        if case.status not in CLOSED_STATUSES:
            raise CommandFailed(f"the case is {case.status}, not resolved or closed")
        cases.reopen(self.session, case, self.actor, self.now, self.message, self.rules)
        return f"reopened ({case.status})"

    def _priority(self, command: Command, case: Case) -> str:
        wanted = str(command.value).strip().lower()
        names = {p.name.lower(): p.name for p in self.rules.priorities}
        if wanted not in names:
            raise CommandFailed(f"unknown priority; the rules have: {', '.join(names.values())}")
        cases.set_priority(
            self.session, case, names[wanted], self.rules, self.actor, self.now, self.message
        )
        return f"priority {names[wanted]}, due {self._local(case.due_at)}"

    def _category(self, command: Command, case: Case) -> str:
        category, _, group = str(command.value).partition("/")
        route = _find_route(self.rules, category.strip(), group.strip())
        if route is None:
            raise CommandFailed("no such category/group in the rules")
        cases.set_category(
            self.session, case, route, self.rules, self.actor, self.now, self.message
        )
        return f"category {route.category}/{route.group}, priority {case.priority}"

    def _due(self, command: Command, case: Case) -> str:
        assert isinstance(command.value, Due)
        due = self._deadline(command.value, case)
        cases.set_due(self.session, case, due, self.actor, self.now, self.message)
        return f"due {self._local(due)}"

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
            raise CommandFailed("that is already past")
        return moment

    def _forward(self, command: Command, case: Case) -> str:
        target = str(command.value).strip().lower()
        person = self.rules.person(target) or next(
            (p for p in self.rules.people if p.name.lower() == target), None
        )
        if person is None or person.role != "contractor":
            contractors = ", ".join(p.email for p in self.rules.people if p.role == "contractor")
            raise CommandFailed(f"not a contractor in the rules; they are: {contractors}")
        contractor = cases.party_for(self.session, person.email, person.name, self.now)
        cases.forward(self.session, case, contractor, self.actor, self.now, self.message)
        notify.job(self.ctx, self.session, case, person.email, self.now)
        return f"forwarded to {person.name or person.email}"

    def _time(self, command: Command, case: Case) -> str:
        assert isinstance(command.value, timedelta)
        minutes = int(command.value.total_seconds() // 60)
        entry = TimeEntry(case_id=case.number, actor=self.actor, minutes=minutes, text=command.text)
        cases.log_work(self.session, case, entry, self.actor, self.now, self.message)
        return f"time {minutes // 60}h{minutes % 60:02d}m logged"

    def _material(self, command: Command, case: Case) -> str:
        assert isinstance(command.value, Amount)
        value = command.value
        entry = TimeEntry(
            case_id=case.number, actor=self.actor, material=value.text, amount=value.value
        )
        cases.log_work(self.session, case, entry, self.actor, self.now, self.message)
        return f"material {value.text} {value.value:.2f} logged"

    def _merge(self, command: Command, case: Case) -> str:
        other = self._other(command, case)
        cases.merge(self.session, case, other, self.actor, self.now, self.message)
        return f"merged into case {other.number}"

    def _link(self, command: Command, case: Case) -> str:
        other = self._other(command, case)
        cases.link(self.session, case, other, self.actor, self.now, self.message)
        return f"linked to case {other.number}"

    def _other(self, command: Command, case: Case) -> Case:
        other = self.session.get(Case, command.value)
        if other is None:
            raise CommandFailed(f"there is no case {command.value}")
        if other.number == case.number:
            raise CommandFailed("that is this case")
        return other

    def _note(self, command: Command, case: Case) -> str:
        return ""  # shapes how the mail is stored; nothing to change on the case

    def _local(self, moment: datetime | None) -> str:
        if moment is None:
            return "-"
        return moment.astimezone(self.rules.calendar.timezone).strftime("%Y-%m-%d %H:%M")


_ACTIONS: dict[str, Callable[[Steering, Command, Case], str]] = {
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
    "note": Steering._note,
}


def _block(title: str, lines: list[str], empty: str) -> str:
    return "\n".join([title, *(lines or [f"  ({empty})" if empty else ""])])


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
