"""Routing rules: the data model of ``rules.yaml``, durations and routing.

The rules file says which function addresses the daemon serves, when the office is open,
which priorities exist and how fast each must be handled, who works here, which teams they
form, and how an incoming mail is sorted into a category and group that decide its
recipient and priority.

This module is pure: no database, no clock, no network.  Reading and checking the file
lives in ``smartmail.rules.load``: its ``load_rules`` reads one file and either returns a
``Rules`` or raises ``RulesError`` listing every problem it found, each with file, line and
key path (``categories[0].groups[1].priority``).

Durations are written ``30m``, ``4h``, ``3d`` or combined (``1d12h``) and become a
``timedelta``.  The days part is kept apart from the rest on purpose: for a priority with
``clock: business_hours`` ``timedelta.days`` counts *working days* and the remainder counts
business hours (see ``smartmail.desk.sla.add_duration``).  That is why such a priority may not
write 24 hours or more in its hours/minutes part: ``24h`` would silently turn into one
working day.

Word matching (``match: {any: [...], all: [...]}``) looks at the subject and the body text,
ignores case (Unicode case folding, so Å/å, Ä/ä, Ö/ö are equal) and compares whole words
by their start: the rule word ``avlopp`` matches ``avlopp``, ``avloppet`` and
``avloppsstopp`` but the rule word ``el`` never matches ``hel`` or ``modell``.  A rule word
with a space or hyphen is a phrase (``säga upp``, ``p-plats``): its words must follow each
other, the last one again matched by its start.
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import holidays

from smartmail.mail.parse import ParsedMail
from smartmail.rules.replies import Replies
from smartmail.rules.retention import Privacy

__all__ = [
    "AREA",
    "Calendar",
    "Clock",
    "EscalationStep",
    "Group",
    "LoopLimit",
    "Match",
    "OnCall",
    "Person",
    "Priority",
    "Route",
    "Rules",
    "Team",
    "clean_label",
    "default_rules",
    "format_duration",
    "parse_duration",
]

Clock = Literal["always", "business_hours"]
Role = Literal["staff", "manager", "contractor"]
AssignPolicy = Literal["least_loaded", "round_robin"]

CLOCKS: tuple[Clock, ...] = ("always", "business_hours")
ROLES: tuple[Role, ...] = ("staff", "manager", "contractor")
ASSIGN_POLICIES: tuple[AssignPolicy, ...] = ("least_loaded", "round_robin")
DEFAULT_HOLIDAY_CATEGORIES = ("public", "de_facto")
_DEFAULT_HOURS = ((time(8), time(17)),)

# Only this much of a body is searched for rule words; protects against huge mails.
MAX_TEXT_CHARS = 200_000


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class EscalationStep:
    """After the deadline has passed by ``after``, tell ``to`` (person email or team name)."""

    after: timedelta
    to: str


@dataclass(frozen=True)
class Priority:
    name: str
    respond_within: timedelta | None  # first answer to the customer
    resolve_within: timedelta
    remind_before: timedelta | None  # reminder to the owner before the resolve deadline
    clock: Clock
    escalate: tuple[EscalationStep, ...]
    notify: tuple[str, ...] = ("mail",)  # how its new cases reach people: mail, sms
    on_call: bool = False  # outside the on-call hours a new case goes to who is on call


@dataclass(frozen=True)
class Person:
    email: str  # lower case
    name: str
    role: Role
    area: str = ""
    language: str = ""  # "" = the rules' language
    phone: str = ""  # E.164 (+46701234567), "" = none


@dataclass(frozen=True)
class Team:
    name: str
    members: tuple[str, ...]  # lower-case emails, all among the people
    assign: AssignPolicy
    lead: str | None = None


@functools.lru_cache(maxsize=64)
def _holiday_dates(country: str, categories: tuple[str, ...], year: int) -> frozenset[date]:
    found = holidays.country_holidays(country, years=year, categories=categories)
    return frozenset(found.keys())


@dataclass(frozen=True)
class Calendar:
    """Opening hours in local wall time, per weekday (0 = Monday); missing days are closed."""

    timezone: ZoneInfo
    business_hours: dict[int, tuple[tuple[time, time], ...]]
    holidays: str | None  # country code for the `holidays` package, None = no public holidays
    holiday_categories: tuple[str, ...] = ("public",)
    closed_days: frozenset[date] = frozenset()  # extra closed dates from the rules file

    def is_holiday(self, d: date) -> bool:
        """True if ``d`` is a public holiday (or an extra closed day) of this calendar."""
        if d in self.closed_days:
            return True
        if self.holidays is None:
            return False
        return d in _holiday_dates(self.holidays, self.holiday_categories, d.year)


@dataclass(frozen=True)
class OnCall:
    """Who is on call when (`on_call:` in the rules): a rotation that hands over every
    `every` from `start` (local midnight), and whole local days given to someone else."""

    hours: Literal["outside_business_hours", "always"]
    start: date
    every: timedelta
    people: tuple[str, ...]  # lower-case emails, in turn
    overrides: dict[date, str] = field(default_factory=dict)
    sms_per_hour: int = 6  # at most this many SMS to one person in an hour


@dataclass(frozen=True)
class Match:
    """Conditions of one rule; all conditions given must hold."""

    any: tuple[str, ...] = ()  # at least one of these words (case folded)
    all: tuple[str, ...] = ()  # every one of these words
    subject: re.Pattern[str] | None = None  # searched in the subject, case-insensitive
    from_: tuple[str, ...] = ()  # sender addresses or "@domain"s, lower case
    to: tuple[str, ...] = ()  # function addresses the mail came to, lower case


@dataclass(frozen=True)
class Group:
    """One routing rule.  ``name`` is "" for a rule written directly on a category;
    ``match`` is None only for the default category's catch-all."""

    category: str
    name: str
    match: Match | None
    recipient: str  # person email (lower case), team name, or AREA
    priority: str
    line: int
    note: str = ""  # instruction for whoever receives such cases
    type: str | None = None  # the case type such cases get (one of the rules' `types`)
    labels: tuple[str, ...] = ()  # labels such cases get
    fallback: str = ""  # with recipient AREA: who gets a case no one's area matches


@dataclass(frozen=True)
class Route:
    """Where a mail goes and why.  ``matched_words`` are the rule words that matched."""

    category: str
    group: str
    recipient: str
    priority: str
    reason: str
    matched_words: tuple[str, ...] = ()
    note: str = ""
    type: str | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoopLimit:
    """At most ``mails`` mails within ``within`` on one case and with one address, each way
    (in from it, out to it); past that, mail is stored but causes no more mail."""

    mails: int = 10
    within: timedelta = timedelta(minutes=10)


@dataclass(frozen=True)
class RateLimit:
    """At most ``posts`` posts within ``within``."""

    posts: int
    within: timedelta


@dataclass(frozen=True)
class WebForm:
    """The fault-report page's limits (``web_form`` in the rules)."""

    max_files: int = 5  # photos or PDFs on one post; the page never takes more than 5
    max_file_mb: int = 8  # each
    max_total_mb: int = 15  # a whole post; a bigger one is refused before it is read
    min_fill_seconds: int = 3  # a form sent back faster than this is a bot's
    per_client: RateLimit = RateLimit(20, timedelta(hours=1))  # per client address
    per_email: RateLimit = RateLimit(5, timedelta(hours=1))  # per e-mail address given


@dataclass(frozen=True)
class Rules:
    source: str  # file path, or "<built-in>"
    address: str
    addresses: frozenset[str]  # every function address, lower case
    language: str
    calendar: Calendar
    priorities: tuple[Priority, ...]  # most urgent first
    people: tuple[Person, ...]
    teams: dict[str, Team]
    groups: tuple[Group, ...]  # file order; the default category's catch-all last
    auto_close_after: timedelta
    answers_per_hour: int
    # authserv-id of the MTA whose Authentication-Results header we trust; when set, a
    # command also needs DKIM or SPF to pass there for the sender's domain
    trusted_authserv_id: str | None = None
    # the office's name: the display name of the function address on every mail we send
    name: str = ""
    # the office's own templates, `<folder>/<language>/<name>.txt`, before the shipped ones
    templates: Path | None = None
    loop_limit: LoopLimit = field(default_factory=LoopLimit)
    # how long no automatic mail goes to an address our mail bounced from for good; 0: never
    bounce_suppress_for: timedelta = timedelta(days=30)
    on_call: OnCall | None = None  # nobody is on call without it
    types: tuple[str, ...] = ()  # the case types `#type` and groups' `type:` may name
    # the categories the fault-report page offers (`form: true`), in file order
    form_categories: tuple[str, ...] = ()
    web_form: WebForm = field(default_factory=WebForm)
    # `invoicing: {contractors: true}`: each contractor gets their own rows of the basis too
    invoicing_contractors: bool = False
    # retention, masking when stored, the contact for questions about one's data
    privacy: Privacy = field(default_factory=Privacy)
    replies: Replies = field(default_factory=Replies)  # canned answers, for #reply
    _people_by_email: dict[str, Person] = field(init=False, repr=False, compare=False)
    _priority_by_name: dict[str, Priority] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_people_by_email", {p.email.lower(): p for p in self.people})
        object.__setattr__(self, "_priority_by_name", {p.name: p for p in self.priorities})

    def priority(self, name: str) -> Priority:
        """The priority called ``name``; KeyError if there is none."""
        return self._priority_by_name[name]

    def person(self, email: str) -> Person | None:
        return self._people_by_email.get(email.strip().lower())

    def role_of(self, email: str) -> str:
        """``staff``, ``manager``, ``contractor``, or ``customer`` for anyone not listed."""
        found = self.person(email)
        return found.role if found else "customer"

    def managers(self) -> tuple[Person, ...]:
        return tuple(p for p in self.people if p.role == "manager")

    @property
    def uses_areas(self) -> bool:
        return any(g.recipient == AREA for g in self.groups)

    def route(self, mail: ParsedMail, to_address: str | None = None, known: str = "") -> Route:
        """The first group whose match holds, in file order, else the default category.

        ``to_address`` is the function address the mail came to; None means: any address
        in the mail's To and Cc. ``known`` is what we know of the customer (the text of their
        earlier mail), where a group that routes by area also looks for the area word.
        """
        if to_address:
            targets = frozenset({to_address.strip().lower()})
        else:
            targets = frozenset(a.lower() for a in (*mail.to, *mail.cc))
        words = _MailWords.of(mail)
        source = Path(self.source).name
        for group in self.groups:
            route = _try_group(group, mail, words, targets, source)
            if route is not None and group.recipient == AREA:
                return self._by_area(route, group, words, known)
            if route is not None:
                return route
        raise LookupError("rules without a default category")  # load_rules prevents this

    def _by_area(self, route: Route, group: Group, words: _MailWords, known: str) -> Route:
        """The staff member whose area word is in the mail, else in what we know of the
        customer, else the group's fallback; the first listed of equals."""
        staff = [p for p in self.people if p.area and p.role != "contractor"]
        for where, found in (("mail", words), ("customer", None)):
            if found is None:
                if not known:
                    break
                found = _MailWords.of_text(known)
            for person in staff:
                hit = found.find(_fold(person.area))
                if hit is not None:
                    reason = f"{route.reason}; area {person.area} ({where}: {hit})"
                    return replace(route, recipient=person.email, reason=reason)
        reason = f"{route.reason}; no area word, fallback {group.fallback}"
        return replace(route, recipient=group.fallback, reason=reason)

    def route_in(
        self, category: str, mail: ParsedMail, to_address: str | None = None, known: str = ""
    ) -> Route:
        """The route of a mail whose sender chose `category` (on the fault-report page): the
        first of its groups whose match holds, else its first group; a category the page
        does not offer routes as any mail."""
        if category not in self.form_categories:
            return self.route(mail, to_address, known)
        own = [group for group in self.groups if group.category == category]
        if not own:  # form: true on a category without a rule of its own
            return self.route(mail, to_address, known)
        words = _MailWords.of(mail)
        targets = frozenset({to_address.strip().lower()} if to_address else ())
        source = Path(self.source).name
        for group in own:
            route = _try_group(group, mail, words, targets, source)
            if route is not None:
                return (
                    self._by_area(route, group, words, known) if group.recipient == AREA else route
                )
        first = own[0]
        reason = f'category "{category}" chosen on the fault-report page'
        route = Route(
            first.category,
            first.name,
            first.recipient,
            first.priority,
            reason,
            (),
            first.note,
            first.type,
            first.labels,
        )
        return self._by_area(route, first, words, known) if first.recipient == AREA else route


AREA = "area"  # a group's recipient that picks the staff member by the mail's area word

# A free label: letters, digits, -, _ and / (`vatten`, `storgatan5`, `hus/a`); kept lower case.
_LABEL = re.compile(r"^[\w/-]{1,50}$")


def clean_label(text: str) -> str | None:
    """The label as it is kept (NFKC, lower case), None if `text` is no label."""
    label = unicodedata.normalize("NFKC", text.strip()).casefold()
    return label if _LABEL.match(label) else None


# --------------------------------------------------------------------------- durations

_DURATION_RE = re.compile(
    r"\s*(?:(\d{1,5})\s*d)?\s*(?:(\d{1,6})\s*h)?\s*(?:(\d{1,7})\s*m)?\s*", re.IGNORECASE
)


def _duration_parts(text: str) -> tuple[int, int, int] | None:
    found = _DURATION_RE.fullmatch(text)
    if found is None or not any(found.groups()):
        return None
    days, hours, minutes = (int(g) if g else 0 for g in found.groups())
    return days, hours, minutes


def parse_duration(text: str) -> timedelta:
    """``"30m"``, ``"4h"``, ``"3d"``, ``"1d12h"`` -> timedelta; ValueError otherwise."""
    parts = _duration_parts(text)
    if parts is None:
        raise ValueError(f"bad duration {text!r}: write e.g. 30m, 4h, 3d or 1d12h")
    days, hours, minutes = parts
    return timedelta(days=days, hours=hours, minutes=minutes)


def format_duration(value: timedelta) -> str:
    """The inverse of ``parse_duration``: ``timedelta(days=1, hours=12)`` -> ``"1d12h"``."""
    minutes = value.seconds // 60
    hours, minutes = divmod(minutes, 60)
    text = "".join(
        f"{n}{unit}" for n, unit in ((value.days, "d"), (hours, "h"), (minutes, "m")) if n
    )
    return text or "0m"


# --------------------------------------------------------------------------- word matching

_WORD_RE = re.compile(r"[^\W_]+")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _tokens(text: str) -> list[str]:
    return _WORD_RE.findall(_fold(text))


@functools.lru_cache(maxsize=4096)
def _rule_tokens(word: str) -> tuple[str, ...]:
    return tuple(_tokens(word))


@dataclass(frozen=True)
class _MailWords:
    """The words of a mail's subject and body, ready for prefix look-ups."""

    segments: tuple[tuple[str, ...], ...]
    vocabulary: tuple[str, ...]  # sorted, unique
    words: frozenset[str]

    @classmethod
    def of(cls, mail: ParsedMail) -> _MailWords:
        return cls.of_texts(mail.subject, mail.text)

    @classmethod
    def of_text(cls, text: str) -> _MailWords:
        return cls.of_texts("", text)

    @classmethod
    def of_texts(cls, subject: str, text: str) -> _MailWords:
        segments = (tuple(_tokens(subject)), tuple(_tokens(text[:MAX_TEXT_CHARS])))
        words = frozenset(w for segment in segments for w in segment)
        return cls(segments, tuple(sorted(words)), words)

    def find(self, rule_word: str) -> str | None:
        """The text word (or phrase) that ``rule_word`` matches, None if none does."""
        tokens = _rule_tokens(rule_word)
        if not tokens:
            return None
        if len(tokens) == 1:
            return self._find_word(tokens[0])
        return self._find_phrase(tokens)

    def _find_word(self, stem: str) -> str | None:
        at = bisect.bisect_left(self.vocabulary, stem)
        if at < len(self.vocabulary) and self.vocabulary[at].startswith(stem):
            return self.vocabulary[at]
        return None

    def _find_phrase(self, tokens: tuple[str, ...]) -> str | None:
        head, last, size = tokens[:-1], tokens[-1], len(tokens)
        if not self.words.issuperset(head):  # the usual answer, without walking the text
            return None
        for segment in self.segments:
            for i in range(len(segment) - size + 1):
                if segment[i : i + size - 1] == head and segment[i + size - 1].startswith(last):
                    return " ".join(segment[i : i + size])
        return None


def _word_hits(match: Match, words: _MailWords) -> list[tuple[str, str]] | None:
    """(text word, rule word) pairs for ``all`` and ``any``; None if they do not hold."""
    hits: list[tuple[str, str]] = []
    for rule_word in match.all:
        found = words.find(rule_word)
        if found is None:
            return None
        hits.append((found, rule_word))
    if match.any:
        any_hits = [(f, w) for w in match.any if (f := words.find(w)) is not None]
        if not any_hits:
            return None
        hits.extend(any_hits)
    return hits


def _subject_part(match: Match, mail: ParsedMail, targets: frozenset[str]) -> str | None:
    if match.subject is None:
        return ""
    return f"subject ~ /{match.subject.pattern}/" if match.subject.search(mail.subject) else None


def _from_part(match: Match, mail: ParsedMail, targets: frozenset[str]) -> str | None:
    if not match.from_:
        return ""
    sender = mail.from_addr.strip().lower()
    domain = "@" + sender.rpartition("@")[2]
    for entry in match.from_:
        if entry in (sender, domain):
            return f"from {entry}"
    return None


def _to_part(match: Match, mail: ParsedMail, targets: frozenset[str]) -> str | None:
    if not match.to:
        return ""
    for address in match.to:
        if address in targets:
            return f"to {address}"
    return None


def _show_hit(text_word: str, rule_word: str) -> str:
    return rule_word if text_word == rule_word else f"{text_word}~{rule_word}"


def _explain(
    match: Match, mail: ParsedMail, words: _MailWords, targets: frozenset[str]
) -> tuple[list[str], tuple[str, ...]] | None:
    """Why ``match`` holds for the mail (reason parts, rule words), None if it does not."""
    parts: list[str] = []
    for check in (_to_part, _from_part, _subject_part):
        part = check(match, mail, targets)
        if part is None:
            return None
        if part:
            parts.append(part)
    hits = _word_hits(match, words)
    if hits is None:
        return None
    if hits:
        parts.insert(0, "words " + ", ".join(_show_hit(t, r) for t, r in hits))
    return parts, tuple(dict.fromkeys(r for _, r in hits))


def _try_group(
    group: Group, mail: ParsedMail, words: _MailWords, targets: frozenset[str], source: str
) -> Route | None:
    if group.match is None:
        reason = f'default category "{group.category}"'
        return Route(
            group.category,
            group.name,
            group.recipient,
            group.priority,
            reason,
            (),
            group.note,
            group.type,
            group.labels,
        )
    explained = _explain(group.match, mail, words, targets)
    if explained is None:
        return None
    parts, matched = explained
    what = f'group "{group.name}"' if group.name else f'category "{group.category}"'
    reason = f"{what} ({source}:{group.line}): " + "; ".join(parts)
    return Route(
        group.category,
        group.name,
        group.recipient,
        group.priority,
        reason,
        matched,
        group.note,
        group.type,
        group.labels,
    )


# --------------------------------------------------------------------------- built-in rules


def default_rules(address: str = "support@localhost") -> Rules:
    """Rules for when no rules file exists: everything goes to an empty team "support"."""
    normal = Priority("normal", None, timedelta(days=3), None, "business_hours", ())
    calendar = Calendar(
        timezone=ZoneInfo("Europe/Stockholm"),
        business_hours=dict.fromkeys(range(5), _DEFAULT_HOURS),
        holidays="SE",
        holiday_categories=DEFAULT_HOLIDAY_CATEGORIES,
    )
    main = address.strip().lower()
    return Rules(
        source="<built-in>",
        address=main,
        addresses=frozenset({main}),
        language="sv",
        calendar=calendar,
        priorities=(normal,),
        people=(),
        teams={"support": Team("support", (), "least_loaded")},
        groups=(Group("Övrigt", "", None, "support", "normal", 0),),
        auto_close_after=timedelta(days=7),
        answers_per_hour=10,
    )
