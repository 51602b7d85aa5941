"""rules.yaml, `on_call:` and a person's `phone:`: checked into an OnCall and E.164 numbers."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Literal, cast

from smartmail.rules.model import OnCall, Person
from smartmail.rules.phones import e164
from smartmail.rules.yaml_lines import Checker, did_you_mean, join_path

HOURS = ("outside_business_hours", "always")
NOTIFY = ("mail", "sms")
_EVERY_RE = re.compile(r"\s*(\d{1,3})\s*([wd])\s*", re.IGNORECASE)


def read_phone(check: Checker, value: Any, path: str) -> str:
    """A person's `phone:` in E.164; a Swedish `070-123 45 67` is +46701234567."""
    text = check.text(str(value) if isinstance(value, int) else value, path)
    if text is None:
        return ""
    number = e164(text)
    if number is None:
        check.error(path, f'"{text}" is no phone number: write e.g. "070-123 45 67" or +46...')
        return ""
    return number


def read_notify(check: Checker, value: Any, path: str) -> tuple[str, ...]:
    """A priority's `notify: [mail, sms]`."""
    chosen = [check.choice(v, path, NOTIFY, "way to notify") for v in check.texts(value, path)]
    return tuple(dict.fromkeys(c for c in chosen if c)) or ("mail",)


class OnCallReader:
    def __init__(self, check: Checker, people: dict[str, Person], teams: dict[str, Any]) -> None:
        self.check = check
        self.people = people
        self.teams = teams

    def read(self, value: Any) -> OnCall | None:
        path = "on_call"
        optional = ("hours", "overrides", "sms_per_hour")
        data = self.check.mapping(value, path, ("rotation",), optional)
        if data is None:
            return None
        hours = self.check.choice(
            data.get("hours", "outside_business_hours"), f"{path}.hours", HOURS, "hours"
        )
        rotation = self._rotation(data.get("rotation"), f"{path}.rotation")
        overrides = self._overrides(data.get("overrides"), f"{path}.overrides")
        cap = self.check.integer(data.get("sms_per_hour", 6), f"{path}.sms_per_hour", 1)
        if rotation is None or hours is None:
            return None
        start, every, people = rotation
        kind = cast(Literal["outside_business_hours", "always"], hours)
        return OnCall(kind, start, every, people, overrides, cap or 6)

    def _rotation(self, value: Any, path: str) -> tuple[date, timedelta, tuple[str, ...]] | None:
        data = self.check.mapping(value, path, ("start", "every", "people"))
        if data is None or not {"start", "every", "people"} <= set(data):
            return None
        start = data["start"]
        if not isinstance(start, date):
            self.check.error(f"{path}.start", f"should be a date like 2026-01-05, not {start!r}")
        every = self._every(data["every"], f"{path}.every")
        people = self._people(data["people"], f"{path}.people")
        if not isinstance(start, date) or every is None or not people:
            return None
        return start, every, people

    def _every(self, value: Any, path: str) -> timedelta | None:
        found = _EVERY_RE.fullmatch(value) if isinstance(value, str) else None
        if found is None or int(found[1]) == 0:
            self.check.error(path, f"bad turn length {value!r}: write e.g. 1w, 2w or 1d")
            return None
        count = int(found[1])
        return timedelta(weeks=count) if found[2].lower() == "w" else timedelta(days=count)

    def _people(self, value: Any, path: str) -> tuple[str, ...]:
        """A list of people, or a team name (its members, in turn)."""
        if isinstance(value, str) and value in self.teams:
            members = tuple(self.teams[value].members)
            return tuple(m for m in members if self._on_call_person(m, path))
        found: list[str] = []
        for i, item in enumerate(self.check.items(value, path)):
            email = self.check.address(item, f"{path}[{i}]")
            if email and self._on_call_person(email, f"{path}[{i}]"):
                found.append(email)
        if not found and isinstance(value, list) and not value:
            self.check.error(path, "name at least one person, or a team")
        return tuple(found)

    def _on_call_person(self, email: str, path: str) -> bool:
        """Staff or a manager with a phone: SMS never go to customers or contractors."""
        person = self.people.get(email)
        if person is None:
            hint = did_you_mean(email, self.people)
            self.check.error(path, f"{email} is not among the people{hint}")
            return False
        if person.role not in ("staff", "manager"):
            self.check.error(
                path, f"{email} is a {person.role}: only staff and managers are on call"
            )
            return False
        if not person.phone:
            self.check.error(path, f"{email} has no phone: give the person a phone: to get SMS")
            return False
        return True

    def _overrides(self, value: Any, path: str) -> dict[date, str]:
        found: dict[date, str] = {}
        for key, item in (self.check.free_mapping(value, path) or {} if value else {}).items():
            where = join_path(path, key)
            try:
                day = date.fromisoformat(str(key))
            except ValueError:
                self.check.error(where, f"should be a date like 2026-12-24, not {key!r}")
                continue
            email = self.check.address(item, where)
            if email and self._on_call_person(email, where):
                found[day] = email
        return found
