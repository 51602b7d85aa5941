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
from smartmail.rules.model import LoopLimit, OnCall, Priority, Rules, WebForm
from smartmail.rules.on_call_keys import OnCallReader
from smartmail.rules.people import Directory, PriorityReader
from smartmail.rules.privacy import read_privacy
from smartmail.rules.replies_load import ReplyReader
from smartmail.rules.web_form import read_web_form
from smartmail.rules.yaml_lines import Checker, read_yaml, yaml_problem

__all__ = ["load_rules", "rules_from_text"]

_TOP_REQUIRED = ("address", "priorities", "categories")
_TOP_OPTIONAL = (
    "addresses",
    "name",
    "templates",
    "language",
    "calendar",
    "people",
    "teams",
    "auto_close_after",
    "answers_per_hour",
    "trusted_mta",
    "loop_limit",
    "bounces",
    "on_call",
    "types",
    "web_form",
    "invoicing",
    "privacy",
    "replies",
    "replies_dir",
)
_LOOP_LIMIT = LoopLimit()
_BOUNCE_SUPPRESS_FOR = timedelta(days=30)


def _build(data: Any, check: Checker, source: str, base: Path | None = None) -> Rules:
    top = check.mapping(data, "", _TOP_REQUIRED, _TOP_OPTIONAL) or {}
    address = check.address(top.get("address"), "address") if "address" in top else None
    extra = check.addresses(top.get("addresses"), "addresses")
    name = _office_name(check, top["name"]) if "name" in top else ""
    templates = _templates_folder(check, top["templates"], source) if "templates" in top else None
    language = check.text(top.get("language", "sv"), "language") or "sv"
    calendar = CalendarReader(check).read(top.get("calendar"))
    directory = Directory(check)
    directory.read_people(top.get("people"))
    directory.read_teams(top.get("teams"))
    priority_reader = PriorityReader(check, directory)
    priorities = priority_reader.read(top.get("priorities"))
    names = priority_reader.declared
    types = _types(check, top.get("types"))
    category_reader = CategoryReader(check, directory, names, types)
    groups = category_reader.read(top.get("categories"))
    auto_close = check.duration(top.get("auto_close_after", "7d"), "auto_close_after")
    answers = check.integer(top.get("answers_per_hour", 10), "answers_per_hour")
    trusted = check.text(top["trusted_mta"], "trusted_mta") if "trusted_mta" in top else None
    loop_limit = _loop_limit(check, top["loop_limit"]) if "loop_limit" in top else _LOOP_LIMIT
    suppress_for = _bounces(top.get("bounces"), check)
    on_call = _on_call(check, top, directory, priorities)
    web_form = read_web_form(check, top["web_form"]) if "web_form" in top else None
    contractors = _invoicing(top.get("invoicing"), check)
    privacy = read_privacy(check, top.get("privacy"))
    reader = ReplyReader(check, base or Path(source).parent, language)
    replies = reader.read(top.get("replies"), top.get("replies_dir"))
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
        name=name,
        templates=templates,
        loop_limit=loop_limit,
        bounce_suppress_for=suppress_for,
        on_call=on_call,
        types=types,
        form_categories=tuple(category_reader.form_categories),
        web_form=web_form or WebForm(),
        invoicing_contractors=contractors,
        privacy=privacy,
        replies=replies,
    )


def _on_call(
    check: Checker, top: dict[str, Any], directory: Directory, priorities: tuple[Priority, ...]
) -> OnCall | None:
    """`on_call:`; a priority that pages the person on call needs it."""
    found = None
    if "on_call" in top:
        found = OnCallReader(check, directory.people, directory.teams).read(top["on_call"])
    for i, priority in enumerate(priorities):
        if priority.on_call and "on_call" not in top:
            check.error(f"priorities[{i}].on_call", "no on_call: section says who is on call")
    return found


# Long enough for any office's name; a From header stays readable.
_MAX_NAME = 100


def _office_name(check: Checker, value: Any) -> str:
    """`name`: one line of printable text, the display name of our From."""
    text = check.text(value, "name")
    if text is None:
        return ""
    if not text.isprintable() or len(text) > _MAX_NAME:
        check.error("name", f"should be one line of printable text, at most {_MAX_NAME} long")
        return ""
    return text


def _templates_folder(check: Checker, value: Any, source: str) -> Path | None:
    """`templates`: a folder of the office's own templates; relative to the rules file."""
    text = check.text(value, "templates")
    if text is None:
        return None
    folder = (Path(source).parent / Path(text).expanduser()).resolve()
    if not folder.is_dir():
        check.error("templates", f"no folder {folder} (templates go in <folder>/sv/ack.txt ...)")
        return None
    return folder


def _loop_limit(check: Checker, value: Any) -> LoopLimit:
    """`loop_limit: {mails: 10, within: 10m}`; each key may be left out for its default."""
    given = check.mapping(value, "loop_limit", (), ("mails", "within")) or {}
    mails = check.integer(given.get("mails", _LOOP_LIMIT.mails), "loop_limit.mails", 1)
    within = check.duration(given.get("within", "10m"), "loop_limit.within")
    if within is not None and within <= timedelta(0):
        check.error("loop_limit.within", "should be longer than 0m, e.g. 10m")
        within = None
    return LoopLimit(mails or _LOOP_LIMIT.mails, within or _LOOP_LIMIT.within)


def _types(check: Checker, value: Any) -> tuple[str, ...]:
    """`types: [fel, fråga, ...]`: the case types there are (`#type`, a group's `type:`)."""
    names = check.texts(value, "types") if value is not None else []
    for i, name in enumerate(names):
        if not name.strip() or len(name.split()) > 1:
            check.error(f"types[{i}]", f'"{name}": a type is one word')
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


def _bounces(value: Any, check: Checker) -> timedelta:
    """`bounces: {suppress_for: 30d}`: how long a permanent bounce holds back automatic mail."""
    section = check.mapping(value, "bounces", (), ("suppress_for",)) if value is not None else {}
    if not section or "suppress_for" not in section:
        return _BOUNCE_SUPPRESS_FOR
    found = check.duration(section["suppress_for"], "bounces.suppress_for")
    return _BOUNCE_SUPPRESS_FOR if found is None else found


def _invoicing(value: Any, check: Checker) -> bool:
    """`invoicing: {contractors: true}`: contractors get their own rows of the monthly basis."""
    section = check.mapping(value, "invoicing", (), ("contractors",)) if value is not None else {}
    if not section or "contractors" not in section:
        return False
    return check.boolean(section["contractors"], "invoicing.contractors")


def load_rules(path: str | Path, base: Path | None = None) -> Rules:
    """Read and check a rules file.

    Raises RulesError listing every problem found (an unreadable file is one problem with
    line 0).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RulesError([RuleProblem(source, 0, "", f"cannot read the file: {error}")]) from None
    return rules_from_text(text, source, base)


def rules_from_text(text: str, source: str, base: Path | None = None) -> Rules:
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
    return _build(data, check, source, base)
