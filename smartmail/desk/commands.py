"""Tagged lines (#assign, #status, ...) -> Command objects, and who may use which. Pure.

Commands are the lines starting with `#` at the top of a reply, one per line, before any
other text; blank lines between them are fine. Names and values are case-insensitive and
have Swedish aliases. What follows the command lines is the message itself. Lines are
read as a person meant them, whatever their phone typed: after NFKC and without invisible
characters (`clean_line`). What is wrong is said as a Phrase, in the reader's language.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from smartmail.errors import MailRefused
from smartmail.mail.addr import recipient
from smartmail.mail.phrases import N_, NC_, Phrase, phrase, render, word
from smartmail.rules.model import clean_label, parse_duration
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
        NC_("usage", NC_("usage", "#material <text> [<quantity> st] <amount>")),
        N_("log material, e.g. #material trap 249, or 2 st at 249: #material trap 2 st 249"),
        roles=_STAFF | {"contractor"},
    ),
    Spec(
        "merge", ("sammanfoga",), NC_("usage", "#merge <case>"), N_("merge this case into another")
    ),
    Spec("link", ("länka",), NC_("usage", "#link <case>"), N_("link this case to another")),
    Spec(
        "revoke-link",
        ("återkalla-länk",),
        NC_("usage", "#revoke-link"),
        N_("withdraw the web links to follow this case; links made before open nothing"),
    ),
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
        roles=_ALL,
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
        "take",
        ("ta",),
        NC_("usage", "#take"),
        N_("take the case: it is yours, and the on-call escalation stops"),
    ),
    Spec(
        "hold",
        ("spara",),
        NC_("usage", "#hold [off]"),
        N_("legal hold: the case is never erased until #hold off"),
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
    Spec(
        "customer",
        ("kund",),
        NC_("usage", '#customer <address> ["name"]'),
        N_("open a case for this customer with the rest of this mail (a call, a visit)"),
        scope="mode",
    ),
    Spec(
        "channel",
        ("kanal",),
        NC_("usage", "#channel <phone|visit|letter|mail>"),
        N_("how the customer reached us"),
    ),
    Spec(
        "quiet",
        ("tyst",),
        NC_("usage", "#quiet"),
        N_("with #customer: no acknowledgement to the customer"),
        scope="mode",
    ),
    Spec(
        "label",
        ("etikett",),
        NC_("usage", "#label <+label -label ...>"),
        N_("add (+) and remove (-) labels"),
    ),
    Spec("type", ("typ",), NC_("usage", "#type <type>"), N_("set the case's type")),
    Spec(
        "watch",
        ("bevaka",),
        NC_("usage", "#watch [person|team]"),
        N_("you (or they) get a copy of the customer's mail and of every answer"),
    ),
    Spec(
        "unwatch",
        ("avbevaka",),
        NC_("usage", "#unwatch [person|team]"),
        N_("no more copies for you (or them)"),
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
    value: float  # the total
    quantity: float | None = None  # `#material vattenlås 2 st 249`: 2 st at 249 each
    unit: str = ""
    unit_price: float | None = None


@dataclass(frozen=True)
class Customer:
    """Whom a case opened by staff (#customer) is for."""

    email: str
    name: str


@dataclass(frozen=True)
class Labels:
    add: tuple[str, ...]
    remove: tuple[str, ...]


CHANNEL_WORDS: dict[str, str] = {
    **{c: c for c in ("phone", "visit", "letter", "mail")},
    "telefon": "phone",
    "tel": "phone",
    "samtal": "phone",
    "besök": "visit",
    "disk": "visit",
    "brev": "letter",
    "post": "letter",
    "mejl": "mail",
    "e-post": "mail",
    "epost": "mail",
}

Value = str | int | tuple[int, ...] | timedelta | Due | Amount | Customer | Labels | None


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
    def is_quiet(self) -> bool:
        return any(c.name == "quiet" for c in self.commands)

    @property
    def customer(self) -> Customer | None:
        """Whom the case this mail opens is for (#customer), if it opens one."""
        for command in self.commands:
            if command.name == "customer" and isinstance(command.value, Customer):
                return command.value
        return None

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
# A quantity and a unit price: "2 st 249", "3 m à 45", "2 x 249,50 kr". A number before
# the amount with any other word ("rör 1 m 120") is part of the text, as it always was.
_NUMBER = r"\d{1,7}(?:[.,]\d{1,2})?"  # a quantity or unit price; their product stays finite
_EACH = tuple(
    re.compile(
        rf"^(?P<text>.+?)\s+(?P<quantity>{_NUMBER})\s*{middle}\s*(?P<price>{_NUMBER})"
        r"\s*(?:kr|sek|:-)?$",
        re.I,
    )
    for middle in (
        r"(?P<unit>st|styck|stk|pcs|pc)\.?\s(?:\s*[àá@])?",
        r"(?:(?P<unit>[^\W\d_]{1,8})\.?\s*)?[àá@x\u00d7]",
    )
)
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
    each = _EACH[0].match(rest) or _EACH[1].match(rest)
    if each:
        quantity, price = _number(each["quantity"]), _number(each["price"])
        unit = (each["unit"] or "").rstrip(".")
        total = round(quantity * price, 2)
        return Amount(each["text"].strip(), total, quantity, unit, price), ""
    match = _AMOUNT.match(rest)
    if not match:
        raise _usage(N_("{usage}: what, then the amount, e.g. #material trap 249"), spec)
    return Amount(match["text"].strip(), _number(match["amount"])), ""


def _number(text: str) -> float:
    return float(text.replace(",", "."))


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


# A name after the address, in any quotes people type: "Eva Lind", “Eva Lind”, 'Eva'.
_QUOTES = "\"'\u201c\u201d\u201e\u00ab\u00bb\u2018\u2019"
_MAX_NAME = 100


def _customer(rest: str, spec: Spec) -> tuple[Value, str]:
    address, _, name = rest.partition(" ")
    address = address.strip("<>,;").lower()
    try:
        recipient(address)
    except MailRefused:
        raise _usage(N_("{usage}: one mail address, e.g. eva@example.org"), spec) from None
    name = " ".join(name.strip().strip(_QUOTES).split())
    if not name.isprintable() or len(name) > _MAX_NAME:
        raise _usage(N_("{usage}: the name is one line of text"), spec)
    return Customer(address, name), ""


def _channel(rest: str, spec: Spec) -> tuple[Value, str]:
    channel = CHANNEL_WORDS.get(rest.casefold())
    if channel is None:
        raise _usage(N_("{usage}: say how the customer reached us"), spec)
    return channel, ""


def _labels(rest: str, spec: Spec) -> tuple[Value, str]:
    add: list[str] = []
    remove: list[str] = []
    for item in rest.replace(",", " ").split():
        sign, text = (item[0], item[1:]) if item[0] in "+-" else ("+", item)
        label = clean_label(text)
        if label is None:
            raise BadCommand(
                phrase(N_("{label} is no label: letters, digits, -, _ and / only"), label=text)
            )
        (add if sign == "+" else remove).append(label)
    if not add and not remove:
        raise _usage(N_("{usage}: say what"), spec)
    return Labels(tuple(dict.fromkeys(add)), tuple(dict.fromkeys(remove))), ""


def _someone(rest: str, spec: Spec) -> tuple[Value, str]:
    return rest or "me", ""


_HOLD_OFF = frozenset({"off", "av", "släpp"})


def _hold(rest: str, spec: Spec) -> tuple[Value, str]:
    """`#hold` puts the hold on, `#hold off` (`#spara av`) takes it off."""
    word = rest.strip().casefold()
    if word and word not in _HOLD_OFF:
        raise _usage(N_("{usage}: nothing, or off"), spec)
    return ("off" if word else "on"), ""


_VALUE_PARSERS: dict[str, Callable[[str, Spec], tuple[Value, str]]] = {
    "customer": _customer,
    "channel": _channel,
    "label": _labels,
    "type": _word,
    "watch": _someone,
    "unwatch": _someone,
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
    "hold": _hold,
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
    return list(_help_lines(role, language))


@functools.lru_cache(maxsize=32)
def _help_lines(role: str, language: str) -> tuple[str, ...]:
    # Every notice to staff carries these lines: made once per role and language.
    specs = allowed_for(role)
    usages = [render(word("usage", s.usage), language) for s in specs]
    # Aligned in a column as wide as the usages that fit it: padded to the widest one
    # (#sök's, 131 characters), every line of every notice to staff was 170 wide.
    width = max((len(u) for u in usages if len(u) <= _USAGE_COLUMN), default=0)
    return tuple(
        f"{u:<{width}}  {render(phrase(s.help), language)}"
        for u, s in zip(usages, specs, strict=True)
    )


_USAGE_COLUMN = 42  # a wider usage is followed by its help after two blanks
