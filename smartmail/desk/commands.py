"""Tagged lines (#assign, #status, ...) -> Command objects, and who may use which. Pure.

Commands are the lines starting with `#` at the top of a reply, one per line, before any
other text; blank lines between them are fine. Names and values are case-insensitive and
have Swedish aliases. What follows the command lines is the message itself. Lines are
read as a person meant them, whatever their phone typed: after NFKC and without invisible
characters (`clean_line`). What is wrong is said as a Phrase, in the reader's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from smartmail.mail.phrases import N_, NC_, Phrase, phrase, render, word
from smartmail.rules.model import parse_duration
from smartmail.store.models import CLOSED_STATUSES, OPEN_STATUSES

Role = Literal["customer", "staff", "manager", "contractor"]
Scope = Literal["case", "query", "mode"]  # acts on a case | answers a question | shapes the mail


@dataclass(frozen=True)
class Spec:
    name: str
    aliases: tuple[str, ...]
    usage: str  # English, marked for the catalogue: each language writes its own aliases
    help: str  # English, marked for the catalogue; the reader gets their language
    scope: Scope = "case"
    roles: frozenset[str] = frozenset({"staff", "manager"})


_STAFF = frozenset({"staff", "manager"})
_ALL = frozenset({"staff", "manager", "contractor", "customer"})

SPECS: tuple[Spec, ...] = (
    Spec(
        "assign",
        ("tilldela",),
        NC_("usage", "#assign <person|team|me>"),
        N_("give the case to someone"),
    ),
    Spec(
        "status",
        (),
        NC_("usage", NC_("usage", "#status <status>")),
        N_("set the status: new, feedback, approved, confirmed, assigned, resolved, closed"),
        roles=_STAFF | {"contractor"},
    ),
    Spec(
        "priority",
        ("prioritet", "prio"),
        NC_("usage", "#priority <level>"),
        N_("change the priority"),
    ),
    Spec(
        "category",
        ("kategori",),
        NC_("usage", "#category <category[/group]>"),
        N_("change the category"),
    ),
    Spec(
        "due",
        ("klart", "deadline"),
        NC_("usage", "#due <YYYY-MM-DD [HH:MM] | 3d | 4h>"),
        N_("set the deadline"),
    ),
    Spec(
        "note",
        ("intern", "anteckning"),
        NC_("usage", NC_("usage", "#note")),
        N_("this mail is an internal note, never sent to the customer"),
        scope="mode",
        roles=_STAFF | {"contractor"},
    ),
    Spec(
        "send",
        ("sänd", "svara"),
        NC_("usage", NC_("usage", "#send")),
        N_("send the text we held back from you on this case to the customer"),
    ),
    Spec(
        "forward",
        ("vidarebefordra", "skicka"),
        NC_("usage", NC_("usage", "#forward <contractor>")),
        N_("send the case to a contractor"),
    ),
    Spec(
        "time",
        ("tid",),
        NC_("usage", NC_("usage", "#time <duration> [text]")),
        N_("log time worked, e.g. #time 1h30m replaced the trap"),
        roles=_STAFF | {"contractor"},
    ),
    Spec(
        "material",
        (),
        NC_("usage", NC_("usage", "#material <text> <amount>")),
        N_("log material, e.g. #material trap 249"),
        roles=_STAFF | {"contractor"},
    ),
    Spec(
        "merge", ("sammanfoga",), NC_("usage", "#merge <case>"), N_("merge this case into another")
    ),
    Spec("link", ("länka",), NC_("usage", "#link <case>"), N_("link this case to another")),
    Spec(
        "close",
        ("stäng",),
        NC_("usage", "#close"),
        N_("close the case"),
        roles=_STAFF | {"customer"},
    ),
    Spec(
        "reopen",
        ("återöppna",),
        NC_("usage", "#reopen"),
        N_("open a resolved or closed case again"),
    ),
    Spec("help", ("hjälp",), NC_("usage", "#help"), N_("this list"), scope="query", roles=_ALL),
    Spec(
        "mine",
        ("mina",),
        NC_("usage", NC_("usage", "#mine")),
        N_("your open cases, late first"),
        scope="query",
        roles=_STAFF | {"customer"},
    ),
    Spec("new", ("nya",), NC_("usage", "#new"), N_("unassigned new cases"), scope="query"),
    Spec(
        "case",
        ("ärende",),
        NC_("usage", "#case <number>"),
        N_("one case's timeline"),
        scope="query",
    ),
    Spec(
        "reply",
        ("svar",),
        NC_("usage", "#reply <name>"),
        N_("send the canned answer of that name to the customer, your text below it"),
    ),
    Spec(
        "search",
        ("sök",),
        NC_(
            "usage",
            "#search <words> [status:open|closed|<status>] [label:x] [type:x] "
            "[owner:me|<person>] [customer:<address|@domain>] [since:DATE] [until:DATE]",
        ),
        N_("the newest 50 cases whose mail holds the words and that pass the filters"),
        scope="query",
    ),
    Spec(
        "cases",
        ("ärenden",),
        NC_("usage", NC_("usage", "#cases <number> <number> ...")),
        N_("apply the commands that follow to each of these cases"),
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
    message: Phrase


class BadCommand(ValueError):
    """A line that is not a command we can carry out; `phrase` says why, in any language."""

    def __init__(self, phrase: Phrase) -> None:
        super().__init__(phrase.render("en"))
        self.phrase = phrase


@dataclass(frozen=True)
class Tagged:
    commands: tuple[Command, ...]
    problems: tuple[Problem, ...]
    body: str  # the message without the command lines

    @property
    def is_note(self) -> bool:
        return any(c.name == "note" for c in self.commands)

    @property
    def text(self) -> str:
        """The message as written below the commands: lines that were no command count."""
        return "\n".join([*(p.line for p in self.problems), self.body]).strip()

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
# Signs that look like "#" and that NFKC leaves alone: music sharp, viewdata square, ⋕.
_HASH_LOOKALIKES = str.maketrans(dict.fromkeys("\u266f\u2317\u22d5", "#"))


def clean_line(line: str) -> str:
    """A line as a command is read: NFKC (a full-width number sign is "#"), without invisible
    characters (zero-width space and joiners, byte-order mark, word joiner, soft hyphen,
    bidi marks: every format character), signs that look like "#" as "#", stripped."""
    normal = unicodedata.normalize("NFKC", line)
    visible = "".join(char for char in normal if unicodedata.category(char) != "Cf")
    return visible.translate(_HASH_LOOKALIKES).strip()


def split_commands(text: str) -> Tagged:
    """The command lines at the top of `text`, what is wrong with them, and the rest.

    A line at the top that starts with "#" but is no command (`#nto`, `# notera`) is a
    problem, never part of the message: a mail with problems is held back from the customer.
    """
    lines = text.splitlines()
    commands: list[Command] = []
    problems: list[Problem] = []
    index = 0
    while index < len(lines):
        line = clean_line(lines[index])
        if line and not line.startswith("#"):
            break
        index += 1
        if not line:
            continue
        try:
            commands.append(parse_line(line))
        except BadCommand as exc:
            problems.append(Problem(lines[index - 1].strip(), exc.phrase))
    body = "\n".join(lines[index:]).strip()
    return Tagged(tuple(commands), tuple(problems), body)


def parse_line(line: str) -> Command:
    match = _LINE.match(clean_line(line))
    if not match:
        raise BadCommand(phrase(N_("not a command: a command is # and a word, e.g. #help")))
    word, rest = match.group(1).casefold(), match.group(2).strip()
    spec = BY_NAME.get(word)
    if spec is None:
        raise BadCommand(phrase(N_("unknown command #{word}; #help lists them"), word=word))
    value, text = _VALUE_PARSERS.get(spec.name, _no_value)(rest, spec)
    return Command(spec.name, value, text, line)


def _usage(text: str, spec: Spec) -> BadCommand:
    return BadCommand(phrase(text, usage=spec.usage))


def _no_value(rest: str, spec: Spec) -> tuple[Value, str]:
    return None, rest


def _word(rest: str, spec: Spec) -> tuple[Value, str]:
    if not rest:
        raise _usage(N_("{usage}: say what"), spec)
    return rest, ""


def _status(rest: str, spec: Spec) -> tuple[Value, str]:
    status = STATUS_WORDS.get(rest.casefold())
    if status is None:
        raise BadCommand(
            phrase(
                N_(
                    "unknown status {value}; use one of: "
                    "new, feedback, approved, confirmed, assigned, resolved, closed"
                ),
                value=repr(rest),
            )
        )
    return status, ""


def _case_number(rest: str, spec: Spec) -> tuple[Value, str]:
    match = _CASE_NUMBER.match(rest)
    if not match:
        raise _usage(N_("{usage}: give a case number"), spec)
    return int(match.group(1)), ""


def _case_numbers(rest: str, spec: Spec) -> tuple[Value, str]:
    words = rest.replace(",", " ").split()
    numbers = [_CASE_NUMBER.match(w) for w in words]
    if not words or not all(numbers):
        raise _usage(N_("{usage}: give case numbers"), spec)
    return tuple(int(m.group(1)) for m in numbers if m), ""


def _duration_and_text(rest: str, spec: Spec) -> tuple[Value, str]:
    first, _, text = rest.partition(" ")
    try:
        spent = parse_duration(first)
    except ValueError:
        raise _usage(N_("{usage}: a duration like 45m, 2h or 1h30m"), spec) from None
    if spent <= timedelta(0):
        raise _usage(N_("{usage}: the time must be more than zero"), spec)
    return spent, text.strip()


def _material(rest: str, spec: Spec) -> tuple[Value, str]:
    match = _AMOUNT.match(rest)
    if not match:
        raise _usage(N_("{usage}: what, then the amount, e.g. #material trap 249"), spec)
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
        raise _usage(N_("{usage}: a date like 2026-12-01 or a duration like 3d"), spec) from None
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
    "search": _word,
    "reply": _word,
}


@dataclass(frozen=True)
class Standing:
    """What the sender is to the case a command would act on."""

    role: str
    own_case: bool = False  # a customer's own case
    forwarded_to_them: bool = False  # a contractor the case was forwarded to


def refusal(command: Command, standing: Standing) -> Phrase | None:
    """None if the sender may use `command` here; else why not."""
    spec = BY_NAME[command.name]
    role = standing.role
    if role not in spec.roles:
        return phrase(_NOT_FOR[role], command=f"#{command.name}")
    if role == "contractor":
        if command.name == "status" and command.value != "resolved":
            return phrase(N_("contractors may only set #status resolved"))
        if spec.scope == "case" and not standing.forwarded_to_them:
            return phrase(N_("this case was not forwarded to you"))
    if role == "customer" and command.name == "close" and not standing.own_case:
        return phrase(N_("you may only close your own case"))
    return None


_NOT_FOR = {
    "customer": N_("{command} is not for customers"),
    "staff": N_("{command} is not for staff"),
    "manager": N_("{command} is not for managers"),
    "contractor": N_("{command} is not for contractors"),
}


def allowed_for(role: str) -> tuple[Spec, ...]:
    return tuple(spec for spec in SPECS if role in spec.roles)


def help_lines(role: str, language: str) -> list[str]:
    """One line per command the role may use, in the language (Swedish or English): the
    command as that language writes it (`#tilldela` in Swedish), then what it does."""
    specs = allowed_for(role)
    usages = [render(word("usage", s.usage), language) for s in specs]
    width = max(len(u) for u in usages)
    return [
        f"{u:<{width}}  {render(phrase(s.help), language)}"
        for u, s in zip(usages, specs, strict=True)
    ]
