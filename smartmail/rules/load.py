"""Reading and checking ``rules.yaml``: ``load_rules`` turns the file into a ``Rules``.

``rules_yaml`` reads the YAML into plain data that remembers the line of every key path;
each section is checked value by value and built into rules by its own module
(``rules_calendar``, ``rules_people``, ``rules_categories``), the top level here. Every
problem found is collected and raised together as ``RulesError``, each with file, line and
key path (``categories[0].groups[1].priority``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from smartmail.errors import RuleProblem, RulesError
from smartmail.rules.calendar import CalendarReader
from smartmail.rules.categories import CategoryReader
from smartmail.rules.model import Rules
from smartmail.rules.people import Directory, PriorityReader
from smartmail.rules.yaml_lines import Checker, read_yaml, yaml_problem

__all__ = ["load_rules", "rules_from_text"]

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
    "bounces",
)
_BOUNCE_SUPPRESS_FOR = timedelta(days=30)


def _build(data: Any, check: Checker, source: str) -> Rules:
    top = check.mapping(data, "", _TOP_REQUIRED, _TOP_OPTIONAL) or {}
    address = check.address(top.get("address"), "address") if "address" in top else None
    extra = check.addresses(top.get("addresses"), "addresses")
    language = check.text(top.get("language", "sv"), "language") or "sv"
    calendar = CalendarReader(check).read(top.get("calendar"))
    directory = Directory(check)
    directory.read_people(top.get("people"))
    directory.read_teams(top.get("teams"))
    priority_reader = PriorityReader(check, directory)
    priorities = priority_reader.read(top.get("priorities"))
    names = priority_reader.declared
    groups = CategoryReader(check, directory, names).read(top.get("categories"))
    auto_close = check.duration(top.get("auto_close_after", "7d"), "auto_close_after")
    answers = check.integer(top.get("answers_per_hour", 10), "answers_per_hour")
    trusted = check.text(top["trusted_mta"], "trusted_mta") if "trusted_mta" in top else None
    suppress_for = _bounces(top.get("bounces"), check)
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
        bounce_suppress_for=suppress_for,
    )


def _bounces(value: Any, check: Checker) -> timedelta:
    """`bounces: {suppress_for: 30d}`: how long a permanent bounce holds back automatic mail."""
    section = check.mapping(value, "bounces", (), ("suppress_for",)) if value is not None else {}
    if not section or "suppress_for" not in section:
        return _BOUNCE_SUPPRESS_FOR
    found = check.duration(section["suppress_for"], "bounces.suppress_for")
    return _BOUNCE_SUPPRESS_FOR if found is None else found


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
