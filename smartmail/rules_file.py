"""Reading and checking ``rules.yaml``: ``load_rules`` turns the file into a ``Rules``.

``rules_yaml`` reads the YAML into plain data that remembers the line of every key path;
here each section is checked value by value and built into rules. Every problem found is
collected and raised together as ``RulesError``, each with file, line and key path
(``categories[0].groups[1].priority``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml

from smartmail.errors import RuleProblem, RulesError
from smartmail.rules import (
    _DEFAULT_HOURS,
    ASSIGN_POLICIES,
    CLOCKS,
    DEFAULT_HOLIDAY_CATEGORIES,
    ROLES,
    AssignPolicy,
    Calendar,
    Clock,
    EscalationStep,
    Group,
    Match,
    Person,
    Priority,
    Role,
    Rules,
    Team,
    _fold,
    _rule_tokens,
)
from smartmail.rules_yaml import Checker, did_you_mean, join_path, read_yaml, yaml_problem

__all__ = ["load_rules"]


# ---------------------------------------------------------------- calendar

_DAY_NAMES = {
    **{name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))},
    **{name: i for i, name in enumerate(("mån", "tis", "ons", "tor", "fre", "lör", "sön"))},
}
_CLOSED = ("closed", "stängt")
_RANGE_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def _day_span(text: str) -> list[int] | None:
    """``mon-fri`` -> [0..4]; ``sat`` -> [5]; ``fri-mon`` wraps over the weekend."""
    first, dash, last = (part.strip().lower() for part in text.partition("-"))
    if first not in _DAY_NAMES or (dash and last not in _DAY_NAMES):
        return None
    start = _DAY_NAMES[first]
    end = _DAY_NAMES[last] if dash else start
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _parse_days(key: str) -> list[int] | None:
    """``mon-fri``, ``sat``, ``mon-wed, fri`` -> weekday numbers; None if unreadable."""
    days: list[int] = []
    for part in key.split(","):
        span = _day_span(part)
        if span is None:
            return None
        days.extend(span)
    return days


def _parse_range(text: str) -> tuple[time, time] | None:
    found = _RANGE_RE.fullmatch(text.strip())
    if found is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if max(h1, h2) > 23 or max(m1, m2) > 59:
        return None
    start, end = time(h1, m1), time(h2, m2)
    return (start, end) if start < end else None


class _CalendarReader:
    def __init__(self, check: Checker) -> None:
        self.check = check

    def read(self, value: Any) -> Calendar:
        path = "calendar"
        optional = ("timezone", "business_hours", "holidays", "holiday_categories", "closed_days")
        data = self.check.mapping({} if value is None else value, path, optional=optional) or {}
        zone = self._timezone(data.get("timezone", "Europe/Stockholm"))
        hours = self._hours(data.get("business_hours"))
        country = self._country(data.get("holidays", "SE"))
        categories = self._categories(country, data.get("holiday_categories"))
        closed = self._closed_days(data.get("closed_days"))
        return Calendar(zone, hours, country, categories, closed)

    def _timezone(self, value: Any) -> ZoneInfo:
        name = self.check.text(value, "calendar.timezone")
        if name is not None:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                self.check.error("calendar.timezone", f'unknown time zone "{name}"')
        return ZoneInfo("UTC")

    def _hours(self, value: Any) -> dict[int, tuple[tuple[time, time], ...]]:
        path = "calendar.business_hours"
        if value is None:
            return dict.fromkeys(range(5), _DEFAULT_HOURS)
        data = self.check.free_mapping(value, path)
        hours: dict[int, tuple[tuple[time, time], ...]] = {}
        for key, ranges in (data or {}).items():
            days = _parse_days(key)
            if days is None:
                self.check.error(join_path(path, key), f'bad days "{key}": use e.g. mon-fri, sat')
                continue
            parsed = self._ranges(ranges, join_path(path, key))
            hours.update(dict.fromkeys(days, parsed))  # a later key overrides an earlier one
        if data is not None and not any(hours.values()):
            self.check.error(path, "no open hours on any day")
        return {day: ranges for day, ranges in sorted(hours.items()) if ranges}

    def _ranges(self, value: Any, path: str) -> tuple[tuple[time, time], ...]:
        if isinstance(value, str) and value.strip().lower() in _CLOSED:
            return ()
        texts = self.check.texts(value, path)
        ranges: list[tuple[time, time]] = []
        for text in texts:
            parsed = _parse_range(text)
            if parsed is None:
                self.check.error(path, f'bad time range "{text}": write e.g. "07:00-16:00"')
            else:
                ranges.append(parsed)
        ranges.sort()
        if any(a[1] > b[0] for a, b in itertools.pairwise(ranges)):
            self.check.error(path, "time ranges overlap")
        return tuple(ranges)

    def _country(self, value: Any) -> str | None:
        if value is None:
            return None
        code = self.check.text(value, "calendar.holidays")
        if code is None:
            return None
        supported = holidays.list_supported_countries()
        if code.upper() not in supported:
            hint = did_you_mean(code.upper(), supported)
            self.check.error("calendar.holidays", f'unknown holidays country "{code}"{hint}')
            return None
        return code.upper()

    def _categories(self, country: str | None, value: Any) -> tuple[str, ...]:
        if country is None:
            return ("public",)
        supported = tuple(holidays.country_holidays(country).supported_categories)
        if value is None:
            return tuple(c for c in DEFAULT_HOLIDAY_CATEGORIES if c in supported)
        path = "calendar.holiday_categories"
        texts = self.check.texts(value, path)
        chosen = [self.check.choice(c, path, supported, "holiday category") for c in texts]
        valid = tuple(c for c in chosen if c is not None)
        return valid or ("public",)

    def _closed_days(self, value: Any) -> frozenset[date]:
        path = "calendar.closed_days"
        days: set[date] = set()
        for i, item in enumerate(self.check.items(value, path)):
            if isinstance(item, date):
                days.add(item)
            else:
                self.check.error(f"{path}[{i}]", f"should be a date like 2026-12-23, not {item!r}")
        return frozenset(days)


# ---------------------------------------------------------------- people, teams, priorities


class _Directory:
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
        data = self.check.mapping(item, path, required, ("area", "language"))
        if data is None or any(k not in data for k in required):
            return None
        email = self.check.address(data["email"], f"{path}.email")
        self.declared.update([email] if email else [])
        name = self.check.text(data["name"], f"{path}.name")
        role = self.check.choice(data["role"], f"{path}.role", ROLES, "role")
        area = self._optional_text(data, "area", path)
        language = self._optional_text(data, "language", path)
        if email is None or name is None or role is None:
            return None
        return Person(email, name, cast(Role, role), area, language)

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


class _PriorityReader:
    def __init__(self, check: Checker, directory: _Directory) -> None:
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
        optional = ("respond_within", "remind_before", "clock", "escalate")
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
        if name is None or clock is None or resolve is None:
            return None
        return Priority(name, respond, resolve, remind, cast(Clock, clock), steps)

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


# ---------------------------------------------------------------- categories

_MATCH_KEYS = ("any", "all", "subject", "from", "to")
_CATEGORY_KEYS = ("default", "groups", "match", "recipient", "priority", "note")
_GROUP_KEYS = ("recipient", "priority", "note")


@dataclass
class _Target:
    """Recipient and priority of a rule (possibly inherited from its category).

    None = not given; "" = given but wrong (already reported)."""

    recipient: str | None
    priority: str | None
    note: str


class _CategoryReader:
    def __init__(self, check: Checker, directory: _Directory, priorities: set[str]) -> None:
        self.check = check
        self.directory = directory
        self.priorities = priorities
        self.groups: list[Group] = []
        self.catch_all: list[Group] = []
        self.default_path: str | None = None
        self.seen: dict[tuple[str, str], int] = {}

    def read(self, value: Any) -> tuple[Group, ...]:
        items = self.check.items(value, "categories")
        for i, item in enumerate(items):
            self._category(item, f"categories[{i}]")
        if value is not None and self.default_path is None:
            self.check.error("categories", "no category has default: true (one must take the rest)")
        return (*self.groups, *self.catch_all)

    def _category(self, item: Any, path: str) -> None:
        data = self.check.mapping(item, path, ("name",), _CATEGORY_KEYS)
        if data is None or "name" not in data:
            return
        name = self.check.text(data["name"], f"{path}.name")
        if name is None:
            return
        self._unique(name, "", path)
        own = self._target(data, path, _Target(None, None, ""))
        if "default" in data and self.check.boolean(data["default"], f"{path}.default"):
            self._default(name, data, path, own)
            self._groups(name, data.get("groups"), f"{path}.groups", own)
            return
        self._groups(name, data.get("groups"), f"{path}.groups", own)
        if "match" in data or "groups" not in data:
            self._rule(name, "", data, path, own)

    def _default(self, name: str, data: dict[str, Any], path: str, own: _Target) -> None:
        if self.default_path is not None:
            first = self.check.line(self.default_path)
            self.check.error(
                f"{path}.default", f"a second default category (first at line {first})"
            )
            return
        self.default_path = path
        if "match" in data:
            self.check.error(f"{path}.match", "the default category takes the rest: no match")
        for key in ("recipient", "priority"):
            if key not in data:
                self.check.error(f"{path}.{key}", f'missing required key "{key}"')
        if own.recipient and own.priority:
            line = self.check.line(path)
            self.catch_all.append(
                Group(name, "", None, own.recipient, own.priority, line, own.note)
            )

    def _groups(self, category: str, value: Any, path: str, inherited: _Target) -> None:
        items = self.check.items(value, path)
        if value is not None and not items:
            self.check.error(path, "an empty list of groups")
        for j, item in enumerate(items):
            sub = f"{path}[{j}]"
            data = self.check.mapping(item, sub, ("name", "match"), _GROUP_KEYS)
            if data is None or "name" not in data:
                continue
            name = self.check.text(data["name"], f"{sub}.name")
            if name is not None:
                self._unique(category, name, sub)
                self._rule(category, name, data, sub, inherited)

    def _rule(
        self, category: str, name: str, data: dict[str, Any], path: str, inherited: _Target
    ) -> None:
        """A group (or a rule written on a category): needs a match, recipient and priority."""
        target = self._target(data, path, inherited) if name else inherited
        if "match" not in data and not name:  # a group's own mapping check reports it
            self.check.error(f"{path}.match", 'missing required key "match"')
        for key in ("recipient", "priority"):
            if key not in data and getattr(target, key) is None:
                self.check.error(f"{path}.{key}", f'missing required key "{key}"')
        match = self._match(data["match"], f"{path}.match") if "match" in data else None
        if match is None or not target.recipient or not target.priority:
            return
        line = self.check.line(path)
        self.groups.append(
            Group(category, name, match, target.recipient, target.priority, line, target.note)
        )

    def _target(self, data: dict[str, Any], path: str, inherited: _Target) -> _Target:
        recipient, priority = inherited.recipient, inherited.priority
        if "recipient" in data:
            found = self.directory.target(data["recipient"], f"{path}.recipient", "recipient")
            recipient = found or ""
        if "priority" in data:
            priority = self._priority_name(data["priority"], f"{path}.priority") or ""
        note = self.check.text(data["note"], f"{path}.note") if "note" in data else None
        return _Target(recipient, priority, note or inherited.note)

    def _priority_name(self, value: Any, path: str) -> str | None:
        name = self.check.text(value, path)
        if name is not None and name not in self.priorities:
            hint = did_you_mean(name, self.priorities)
            self.check.error(path, f'unknown priority "{name}"{hint}')
            return None
        return name

    def _unique(self, category: str, group: str, path: str) -> None:
        key = (category, group)
        if key in self.seen:
            what = f'group "{group}"' if group else f'category "{category}"'
            self.check.error(f"{path}.name", f"{what} given twice (first at line {self.seen[key]})")
        self.seen.setdefault(key, self.check.line(path))

    def _match(self, value: Any, path: str) -> Match | None:
        data = self.check.mapping(value, path, optional=_MATCH_KEYS)
        if data is None:
            return None
        known = len(self.check.problems)
        subject = self._regex(data["subject"], f"{path}.subject") if "subject" in data else None
        match = Match(
            any=self._words(data.get("any"), f"{path}.any"),
            all=self._words(data.get("all"), f"{path}.all"),
            subject=subject,
            from_=self._senders(data.get("from"), f"{path}.from"),
            to=self.check.addresses(data.get("to"), f"{path}.to"),
        )
        empty = not (match.any or match.all or match.subject or match.from_ or match.to)
        if empty and len(self.check.problems) == known:
            self.check.error(path, "an empty match: give any, all, subject, from or to")
        return None if empty else match

    def _words(self, value: Any, path: str) -> tuple[str, ...]:
        words: list[str] = []
        for i, text in enumerate(self.check.texts(value, path)):
            if not _rule_tokens(text):
                self.check.error(f"{path}[{i}]", f'"{text}" has no letters or digits')
            else:
                words.append(" ".join(_fold(text).split()))
        return tuple(words)

    def _regex(self, value: Any, path: str) -> re.Pattern[str] | None:
        text = self.check.text(value, path)
        if text is None:
            return None
        try:
            return re.compile(text, re.IGNORECASE)
        except re.error as error:
            self.check.error(path, f"bad regular expression {text!r}: {error}")
            return None

    def _senders(self, value: Any, path: str) -> tuple[str, ...]:
        senders: list[str] = []
        for i, text in enumerate(self.check.texts(value, path)):
            ok = "@" in text and " " not in text and not text.endswith("@")
            if ok:
                senders.append(text.lower())
            else:
                self.check.error(f"{path}[{i}]", f'"{text}" is neither an address nor an @domain')
        return tuple(senders)


# ---------------------------------------------------------------- the whole file

_TOP_REQUIRED = ("address", "priorities", "categories")
_TOP_OPTIONAL = (
    "addresses",
    "language",
    "calendar",
    "people",
    "teams",
    "auto_close_after",
    "answers_per_hour",
    "trusted_mta",
)


def _build(data: Any, check: Checker, source: str) -> Rules:
    top = check.mapping(data, "", _TOP_REQUIRED, _TOP_OPTIONAL) or {}
    address = check.address(top.get("address"), "address") if "address" in top else None
    extra = check.addresses(top.get("addresses"), "addresses")
    language = check.text(top.get("language", "sv"), "language") or "sv"
    calendar = _CalendarReader(check).read(top.get("calendar"))
    directory = _Directory(check)
    directory.read_people(top.get("people"))
    directory.read_teams(top.get("teams"))
    priority_reader = _PriorityReader(check, directory)
    priorities = priority_reader.read(top.get("priorities"))
    names = priority_reader.declared
    groups = _CategoryReader(check, directory, names).read(top.get("categories"))
    auto_close = check.duration(top.get("auto_close_after", "7d"), "auto_close_after")
    answers = check.integer(top.get("answers_per_hour", 10), "answers_per_hour")
    trusted = check.text(top["trusted_mta"], "trusted_mta") if "trusted_mta" in top else None
    if check.problems:
        raise RulesError(sorted(check.problems, key=lambda p: p.line))
    main = address or ""
    to_values = {a for g in groups if g.match for a in g.match.to}
    return Rules(
        source=source,
        address=main,
        addresses=frozenset({main, *extra, *to_values}),
        language=language,
        calendar=calendar,
        priorities=priorities,
        people=tuple(directory.people.values()),
        teams=directory.teams,
        groups=groups,
        auto_close_after=auto_close or timedelta(days=7),
        answers_per_hour=10 if answers is None else answers,
        trusted_authserv_id=trusted,
    )


def load_rules(path: str | Path) -> Rules:
    """Read and check a rules file.

    Raises RulesError listing every problem found (an unreadable file is one problem with
    line 0).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError([RuleProblem(source, 0, "", f"cannot read the file: {error}")]) from None
    return rules_from_text(text, source)


def rules_from_text(text: str, source: str) -> Rules:
    """Check the text of a rules file; `source` names it in every problem."""
    try:
        data, tree = read_yaml(text)
    except yaml.YAMLError as error:
        raise RulesError([yaml_problem(source, error, text)]) from None
    check = Checker(source, tree.lines)
    for dup_path, line, message in tree.duplicates:
        check.problems.append(RuleProblem(source, line, dup_path, message))
    if data is None:
        check.error("", "the file is empty")
        raise RulesError(check.problems)
    return _build(data, check, source)
