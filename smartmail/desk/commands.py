"""Tagged lines (#assign, #status, ...) -> Command objects, and who may use which. Pure.

Commands are the lines starting with `#` at the top of a reply, one per line, before any
other text; blank lines between them are fine. Names and values are case-insensitive and
have Swedish aliases. What follows the command lines is the message itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from smartmail.rules.model import parse_duration
from smartmail.store.models import CLOSED_STATUSES, OPEN_STATUSES

Role = Literal["customer", "staff", "manager", "contractor"]
Scope = Literal["case", "query", "mode"]  # acts on a case | answers a question | shapes the mail


@dataclass(frozen=True)
class Spec:
    name: str
    aliases: tuple[str, ...]
    usage: str
    help_en: str
    help_sv: str
    scope: Scope = "case"
    roles: frozenset[str] = frozenset({"staff", "manager"})


_STAFF = frozenset({"staff", "manager"})
_ALL = frozenset({"staff", "manager", "contractor", "customer"})

SPECS: tuple[Spec, ...] = (
    Spec(
        "assign",
        ("tilldela",),
        "#assign <person|team|me>",
        "give the case to someone",
        "ge ärendet till någon",
    ),
    Spec(
        "status",
        (),
        "#status <status>",
        "set the status: " + ", ".join((*OPEN_STATUSES, *CLOSED_STATUSES)),
        "sätt status: ny, återkoppling, godkänd, bekräftad, tilldelad, löst, stängd",
        roles=_STAFF | {"contractor"},
    ),
    Spec(
        "priority",
        ("prioritet", "prio"),
        "#priority <level>",
        "change the priority",
        "ändra prioritet",
    ),
    Spec(
        "category",
        ("kategori",),
        "#category <category[/group]>",
        "change the category",
        "ändra kategori",
    ),
    Spec(
        "due",
        ("klart", "deadline"),
        "#due <YYYY-MM-DD [HH:MM] | 3d | 4h>",
        "set the deadline",
        "sätt när det ska vara klart",
    ),
    Spec(
        "note",
        ("intern", "anteckning"),
        "#note",
        "this mail is an internal note, never sent to the customer",
        "mejlet är en intern anteckning, syns aldrig för kunden",
        scope="mode",
        roles=_STAFF | {"contractor"},
    ),
    Spec(
        "forward",
        ("vidarebefordra", "skicka"),
        "#forward <contractor>",
        "send the case to a contractor",
        "skicka ärendet till en entreprenör",
    ),
    Spec(
        "time",
        ("tid",),
        "#time <duration> [text]",
        "log time worked, e.g. #time 1h30m byte av vattenlås",
        "logga arbetstid",
        roles=_STAFF | {"contractor"},
    ),
    Spec(
        "material",
        (),
        "#material <text> <amount>",
        "log material, e.g. #material vattenlås 249",
        "logga material",
        roles=_STAFF | {"contractor"},
    ),
    Spec(
        "merge",
        ("sammanfoga",),
        "#merge <case>",
        "merge this case into another",
        "slå ihop ärendet med ett annat",
    ),
    Spec(
        "link",
        ("länka",),
        "#link <case>",
        "link this case to another",
        "länka till ett annat ärende",
    ),
    Spec(
        "close",
        ("stäng",),
        "#close",
        "close the case",
        "stäng ärendet",
        roles=_STAFF | {"customer"},
    ),
    Spec(
        "reopen",
        ("återöppna",),
        "#reopen",
        "open a resolved or closed case again",
        "öppna ärendet igen",
    ),
    Spec("help", ("hjälp",), "#help", "this list", "den här listan", scope="query", roles=_ALL),
    Spec(
        "mine",
        ("mina",),
        "#mine",
        "your open cases, late first",
        "dina öppna ärenden, försenade först",
        scope="query",
        roles=_STAFF | {"customer"},
    ),
    Spec(
        "new", ("nya",), "#new", "unassigned new cases", "nya ärenden utan ansvarig", scope="query"
    ),
    Spec(
        "case",
        ("ärende",),
        "#case <number>",
        "one case's timeline",
        "ett ärendes historik",
        scope="query",
    ),
    Spec(
        "cases",
        ("ärenden",),
        "#cases <number> <number> ...",
        "apply the commands that follow to each of these cases",
        "gör följande kommandon på vart och ett av ärendena",
        scope="mode",
    ),
)

BY_NAME: dict[str, Spec] = {}
for _spec in SPECS:
    for _alias in (_spec.name, *_spec.aliases):
        BY_NAME[_alias] = _spec

STATUS_WORDS: dict[str, str] = {
    **{s: s for s in (*OPEN_STATUSES, *CLOSED_STATUSES)},
    "ny": "new",
    "återkoppling": "feedback",
    "väntar": "feedback",
    "godkänd": "approved",
    "bekräftad": "confirmed",
    "tilldelad": "assigned",
    "löst": "resolved",
    "åtgärdad": "resolved",
    "klar": "resolved",
    "stängd": "closed",
}


@dataclass(frozen=True)
class Due:
    """A deadline: either a date (and time) in local time, or a duration from now."""

    on: date | None = None
    at: time | None = None
    after: timedelta | None = None


@dataclass(frozen=True)
class Amount:
    text: str
    value: float


Value = str | int | tuple[int, ...] | timedelta | Due | Amount | None


@dataclass(frozen=True)
class Command:
    name: str  # the canonical (English) name
    value: Value
    text: str  # free text after the value (#time 2h <text>)
    line: str  # as written, for confirmations and errors


@dataclass(frozen=True)
class Problem:
    line: str
    message: str


@dataclass(frozen=True)
class Tagged:
    commands: tuple[Command, ...]
    problems: tuple[Problem, ...]
    body: str  # the message without the command lines

    @property
    def is_note(self) -> bool:
        return any(c.name == "note" for c in self.commands)

    @property
    def bulk(self) -> tuple[int, ...]:
        for command in self.commands:
            if command.name == "cases" and isinstance(command.value, tuple):
                return command.value
        return ()

    def acting(self) -> tuple[Command, ...]:
        return tuple(c for c in self.commands if BY_NAME[c.name].scope == "case")

    def queries(self) -> tuple[Command, ...]:
        return tuple(c for c in self.commands if BY_NAME[c.name].scope == "query")


# "#status: klar" as well as "#status klar": people write a colon after the word.
_LINE = re.compile(r"^#\s*([\wåäöÅÄÖ-]+)\s*:?\s*(.*)$")
_CASE_NUMBER = re.compile(r"^#?(\d{1,9})$")
# The amount ends the line: "249", "249,50", "120 kr", "120:-"
_AMOUNT = re.compile(r"^(?P<text>.+?)\s+(?P<amount>-?\d+(?:[.,]\d{1,2})?)\s*(?:kr|sek|:-)?$", re.I)


def split_commands(text: str) -> Tagged:
    """The command lines at the top of `text`, what is wrong with them, and the rest."""
    lines = text.splitlines()
    commands: list[Command] = []
    problems: list[Problem] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        if line and not line.startswith("#"):
            break
        index += 1
        if not line:
            continue
        try:
            commands.append(parse_line(line))
        except ValueError as exc:
            problems.append(Problem(line, str(exc)))
    body = "\n".join(lines[index:]).strip()
    return Tagged(tuple(commands), tuple(problems), body)


def parse_line(line: str) -> Command:
    match = _LINE.match(line)
    if not match:
        raise ValueError("not a command: a command is # and a word, e.g. #help")
    word, rest = match.group(1).casefold(), match.group(2).strip()
    spec = BY_NAME.get(word)
    if spec is None:
        raise ValueError(f"unknown command #{word}; #help lists them")
    value, text = _VALUE_PARSERS.get(spec.name, _no_value)(rest, spec)
    return Command(spec.name, value, text, line)


def _no_value(rest: str, spec: Spec) -> tuple[Value, str]:
    return None, rest


def _word(rest: str, spec: Spec) -> tuple[Value, str]:
    if not rest:
        raise ValueError(f"{spec.usage}: say what")
    return rest, ""


def _status(rest: str, spec: Spec) -> tuple[Value, str]:
    status = STATUS_WORDS.get(rest.casefold())
    if status is None:
        raise ValueError(f"unknown status {rest!r}; use one of: {', '.join(STATUS_WORDS)}")
    return status, ""


def _case_number(rest: str, spec: Spec) -> tuple[Value, str]:
    match = _CASE_NUMBER.match(rest)
    if not match:
        raise ValueError(f"{spec.usage}: give a case number")
    return int(match.group(1)), ""


def _case_numbers(rest: str, spec: Spec) -> tuple[Value, str]:
    words = rest.replace(",", " ").split()
    numbers = [_CASE_NUMBER.match(w) for w in words]
    if not words or not all(numbers):
        raise ValueError(f"{spec.usage}: give case numbers")
    return tuple(int(m.group(1)) for m in numbers if m), ""


def _duration_and_text(rest: str, spec: Spec) -> tuple[Value, str]:
    first, _, text = rest.partition(" ")
    try:
        spent = parse_duration(first)
    except ValueError:
        raise ValueError(f"{spec.usage}: a duration like 45m, 2h or 1h30m") from None
    if spent <= timedelta(0):
        raise ValueError(f"{spec.usage}: the time must be more than zero")
    return spent, text.strip()


def _material(rest: str, spec: Spec) -> tuple[Value, str]:
    match = _AMOUNT.match(rest)
    if not match:
        raise ValueError(f"{spec.usage}: what, then the amount, e.g. #material vattenlås 249")
    return Amount(match["text"].strip(), float(match["amount"].replace(",", "."))), ""


_KL = re.compile(r"\s+kl\.?\s*(\d{1,2})(?:[:.](\d{2}))?\s*$", re.IGNORECASE)


def _due(rest: str, spec: Spec) -> tuple[Value, str]:
    try:
        return Due(after=parse_duration(rest)), ""
    except ValueError:
        pass
    # "2026-12-01 kl 9" / "kl. 9.30" -> "2026-12-01 09:00" / "09:30"
    text = _KL.sub(lambda m: f" {int(m[1]):02d}:{m[2] or '00'}", rest.strip())
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{spec.usage}: a date like 2026-12-01 or a duration like 3d") from None
    has_time = "T" in text or " " in text
    return Due(on=moment.date(), at=moment.time() if has_time else None), ""


_VALUE_PARSERS: dict[str, Callable[[str, Spec], tuple[Value, str]]] = {
    "assign": _word,
    "status": _status,
    "priority": _word,
    "category": _word,
    "due": _due,
    "forward": _word,
    "time": _duration_and_text,
    "material": _material,
    "merge": _case_number,
    "link": _case_number,
    "case": _case_number,
    "cases": _case_numbers,
}


@dataclass(frozen=True)
class Standing:
    """What the sender is to the case a command would act on."""

    role: str
    own_case: bool = False  # a customer's own case
    forwarded_to_them: bool = False  # a contractor the case was forwarded to


def refusal(command: Command, standing: Standing) -> str | None:
    """None if the sender may use `command` here; else why not."""
    spec = BY_NAME[command.name]
    role = standing.role
    if role not in spec.roles:
        return f"#{command.name} is not for {role}s"
    if role == "contractor":
        if command.name == "status" and command.value != "resolved":
            return "contractors may only set #status resolved"
        if spec.scope == "case" and not standing.forwarded_to_them:
            return "this case was not forwarded to you"
    if role == "customer" and command.name == "close" and not standing.own_case:
        return "you may only close your own case"
    return None


def allowed_for(role: str) -> tuple[Spec, ...]:
    return tuple(spec for spec in SPECS if role in spec.roles)


def help_lines(role: str, language: str) -> list[str]:
    """One line per command the role may use, in the language (Swedish or English)."""
    specs = allowed_for(role)
    width = max(len(s.usage) for s in specs)
    return [f"{s.usage:<{width}}  {s.help_sv if language == 'sv' else s.help_en}" for s in specs]
