"""rules.yaml, `people`, `teams` and `priorities`: who receives cases, how soon, who is told."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from smartmail.rules.model import (
    ASSIGN_POLICIES,
    CLOCKS,
    ROLES,
    AssignPolicy,
    Clock,
    EscalationStep,
    Person,
    Priority,
    Role,
    Team,
)
from smartmail.rules.on_call_keys import read_notify, read_phone
from smartmail.rules.yaml_lines import Checker, did_you_mean, join_path


class Directory:
    """People and teams: who can receive cases."""

    def __init__(self, check: Checker) -> None:
        self.check = check
        self.people: dict[str, Person] = {}
        self.teams: dict[str, Team] = {}
        # Everything declared, also entries with problems of their own, so that a broken
        # entry is reported once and not again at every place that names it.
        self.declared: set[str] = set()

    def read_people(self, value: Any) -> None:
        for i, item in enumerate(self.check.items(value, "people")):
            person = self._person(item, f"people[{i}]")
            if person is None:
                continue
            if person.email in self.people:
                self.check.error(f"people[{i}].email", f"{person.email} is listed twice")
            self.people.setdefault(person.email, person)

    def _person(self, item: Any, path: str) -> Person | None:
        required = ("email", "name", "role")
        data = self.check.mapping(item, path, required, ("area", "language", "phone"))
        if data is None or any(k not in data for k in required):
            return None
        email = self.check.address(data["email"], f"{path}.email")
        self.declared.update([email] if email else [])
        name = self.check.text(data["name"], f"{path}.name")
        role = self.check.choice(data["role"], f"{path}.role", ROLES, "role")
        area = self._optional_text(data, "area", path)
        language = self._optional_text(data, "language", path)
        phone = read_phone(self.check, data["phone"], f"{path}.phone") if "phone" in data else ""
        if email is None or name is None or role is None:
            return None
        return Person(email, name, cast(Role, role), area, language, phone)

    def _optional_text(self, data: dict[str, Any], key: str, path: str) -> str:
        if key not in data:
            return ""
        return self.check.text(data[key], join_path(path, key)) or ""

    def read_teams(self, value: Any) -> None:
        data = self.check.free_mapping({} if value is None else value, "teams") or {}
        for name, item in data.items():
            self.declared.add(str(name))
            team = self._team(str(name), item, join_path("teams", str(name)))
            if team is not None:
                self.teams[team.name] = team

    def _team(self, name: str, item: Any, path: str) -> Team | None:
        data = self.check.mapping(item, path, ("members",), ("assign", "lead"))
        if data is None:
            return None
        if "@" in name:
            self.check.error(path, f'team name "{name}" may not contain @')
        listed = self.check.items(data.get("members"), f"{path}.members")
        members = [self._member(m, f"{path}.members[{i}]") for i, m in enumerate(listed)]
        assign = self.check.choice(
            data.get("assign", "least_loaded"), f"{path}.assign", ASSIGN_POLICIES, "assign policy"
        )
        lead = self._member(data["lead"], f"{path}.lead") if "lead" in data else None
        valid = tuple(dict.fromkeys(m for m in members if m))
        return Team(name, valid, cast(AssignPolicy, assign or "least_loaded"), lead)

    def _member(self, value: Any, path: str) -> str | None:
        email = self.check.address(value, path)
        if email is not None and email not in self.declared:
            hint = did_you_mean(email, self.people)
            self.check.error(path, f"{email} is not among the people{hint}")
            return None
        return email

    def known(self, target: str) -> bool:
        return (target.lower() if "@" in target else target) in self.declared

    def target(self, value: Any, path: str, what: str) -> str | None:
        """A person's email or a team name; reports unknown ones."""
        text = self.check.text(value, path)
        if text is None:
            return None
        if not self.known(text):
            hint = did_you_mean(text, [*self.teams, *self.people])
            self.check.error(path, f'unknown {what} "{text}": not a person nor a team{hint}')
            return None
        return text.lower() if "@" in text else text


class PriorityReader:
    def __init__(self, check: Checker, directory: Directory) -> None:
        self.check = check
        self.directory = directory
        self.declared: set[str] = set()  # names, also of priorities with problems

    def read(self, value: Any) -> tuple[Priority, ...]:
        found: dict[str, Priority] = {}
        items = self.check.items(value, "priorities")
        if value is not None and not items:
            self.check.error("priorities", "at least one priority is needed")
        for i, item in enumerate(items):
            priority = self._priority(item, f"priorities[{i}]")
            if priority is None:
                continue
            if priority.name in found:
                self.check.error(f"priorities[{i}].name", f'priority "{priority.name}" twice')
            found.setdefault(priority.name, priority)
        return tuple(found.values())

    def _priority(self, item: Any, path: str) -> Priority | None:
        optional = ("respond_within", "remind_before", "clock", "escalate", "notify", "on_call")
        data = self.check.mapping(item, path, ("name", "resolve_within"), optional)
        if data is None or "name" not in data or "resolve_within" not in data:
            return None
        name = self.check.text(data["name"], f"{path}.name")
        self.declared.update([name] if name else [])
        clock = self.check.choice(
            data.get("clock", "business_hours"), f"{path}.clock", CLOCKS, "clock"
        )
        business = clock == "business_hours"
        resolve = self.check.duration(data["resolve_within"], f"{path}.resolve_within", business)
        respond = self._optional_duration(data, "respond_within", path, business)
        remind = self._optional_duration(data, "remind_before", path, business)
        steps = self._escalate(data.get("escalate"), f"{path}.escalate", business)
        notify = read_notify(self.check, data.get("notify", "mail"), f"{path}.notify")
        on_call = self.check.boolean(data.get("on_call", False), f"{path}.on_call")
        if name is None or clock is None or resolve is None:
            return None
        return Priority(name, respond, resolve, remind, cast(Clock, clock), steps, notify, on_call)

    def _optional_duration(
        self, data: dict[str, Any], key: str, path: str, business: bool
    ) -> timedelta | None:
        if data.get(key) is None:
            return None
        return self.check.duration(data[key], join_path(path, key), business)

    def _escalate(self, value: Any, path: str, business: bool) -> tuple[EscalationStep, ...]:
        steps: list[EscalationStep] = []
        for i, item in enumerate(self.check.items(value, path)):
            data = self.check.mapping(item, f"{path}[{i}]", ("after", "to"))
            if data is None or "after" not in data or "to" not in data:
                continue
            after = self.check.duration(data["after"], f"{path}[{i}].after", business)
            to = self.directory.target(data["to"], f"{path}[{i}].to", "escalation target")
            if after is not None and to is not None:
                steps.append(EscalationStep(after, to))
        return tuple(steps)
