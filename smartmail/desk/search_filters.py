"""`#search` and `case list` filters: words and `key:value` filters -> Filters. Pure.

    avlopp storgatan status:open label:vatten type:fel owner:me customer:@kund.example
    since:2026-11-01 until:2026-11-30

Words are what the cases must hold (every one of them, somewhere in the case's mail);
filters narrow: several values of one key are alternatives (`status:new status:feedback`),
but every `label:` must be on the case. Keys have Swedish aliases (`etikett:`, `typ:`,
`ägare:`, `kund:`, `sedan:`/`från:`, `till:`). A date is local to the rules' zone; `until`
takes in the whole day. What is wrong is said as a Phrase, in the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from smartmail.desk.commands import STATUS_WORDS, clean_line
from smartmail.mail.phrases import N_, Phrase, phrase

Key = Literal["status", "label", "type", "owner", "customer", "since", "until"]

KEYS: dict[str, Key] = {
    "status": "status",
    "label": "label",
    "etikett": "label",
    "type": "type",
    "typ": "type",
    "owner": "owner",
    "ägare": "owner",
    "customer": "customer",
    "kund": "customer",
    "since": "since",
    "sedan": "since",
    "från": "since",
    "until": "until",
    "till": "until",
}
# A search is a mail's line: a handful of words, a few filters.
MAX_WORDS = 10
MAX_VALUES = 10
MAX_VALUE_LENGTH = 200
BASE_STATUSES = {
    "open": "open",
    "öppen": "open",
    "öppna": "open",
    "closed": "closed",
    "stängd": "closed",
    "stängda": "closed",
}
ME = ("me", "mig", "jag")
NOBODY = ("none", "nobody", "ingen")
_LABEL = re.compile(r"^[\w/-]+$")
_ADDRESS = re.compile(r"^[^\s@]+@[^\s@]+$")
_DOMAIN = re.compile(r"^@?([\w-]+(?:\.[\w-]+)+)$")

Moment = date | datetime


class BadFilter(ValueError):
    """A filter that means nothing; `phrase` says why, in any language."""

    def __init__(self, why: Phrase) -> None:
        super().__init__(why.render("en"))
        self.phrase = why


@dataclass(frozen=True)
class Filters:
    words: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # "open", "closed" (resolved or closed) or one status
    labels: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()  # "me", "none", an address or a person's name, lower case
    customers: tuple[str, ...] = ()  # an address, or a domain as "@kund.example"
    since: Moment | None = None
    until: Moment | None = None

    @property
    def empty(self) -> bool:
        return self == Filters()

    def add(self, key: Key, value: str) -> Filters:
        """These filters and `key:value`; BadFilter when the value means nothing."""
        value = value.strip()
        if not value or len(value) > MAX_VALUE_LENGTH:
            raise BadFilter(phrase(N_("{key}: give a value, e.g. {example}"), **_example(key)))
        if key in ("since", "until"):
            moment = parse_moment(key, value)
            return replace(self, since=moment) if key == "since" else replace(self, until=moment)
        many = {
            "status": "statuses",
            "label": "labels",
            "type": "types",
            "owner": "owners",
            "customer": "customers",
        }[key]
        given: tuple[str, ...] = getattr(self, many)
        if len(given) >= MAX_VALUES:
            raise BadFilter(phrase(N_("{key}: at most {count} values"), key=key, count=MAX_VALUES))
        values: dict[str, tuple[str, ...]] = {many: (*given, _VALUES[key](value))}
        return replace(self, **values)  # type: ignore[arg-type]

    def with_words(self, words: list[str]) -> Filters:
        if len(self.words) + len(words) > MAX_WORDS:
            raise BadFilter(phrase(N_("at most {count} words to search for"), count=MAX_WORDS))
        return replace(self, words=(*self.words, *words))


def parse_filters(text: str) -> Filters:
    """Words and `key:value` filters from one line; a value may follow its `key:` after a
    space. Raises BadFilter on the first filter that means nothing."""
    filters = Filters()
    tokens = clean_line(text).split()
    words: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        name, colon, value = token.partition(":")
        key = KEYS.get(name.casefold()) if colon else None
        if key is None:
            words.append(token)
            continue
        if not value and index < len(tokens):
            value, index = tokens[index], index + 1
        filters = filters.add(key, value)
    return filters.with_words(words)


def _status(value: str) -> str:
    folded = value.casefold()
    found = BASE_STATUSES.get(folded) or STATUS_WORDS.get(folded)
    if found is None:
        raise BadFilter(
            phrase(
                N_(
                    "status: unknown status {value}; use open, closed or one of: "
                    "new, feedback, approved, confirmed, assigned, resolved"
                ),
                value=repr(value),
            )
        )
    return found


def _label(value: str) -> str:
    if not _LABEL.match(value):
        raise BadFilter(phrase(N_("label: letters, digits, -, _ and / only, e.g. label:vatten")))
    return value


def _type(value: str) -> str:
    return value


def _owner(value: str) -> str:
    folded = value.casefold()
    if folded in ME:
        return "me"
    if folded in NOBODY:
        return "none"
    return folded


def _customer(value: str) -> str:
    folded = value.casefold()
    if _ADDRESS.match(folded) and not folded.startswith("@"):
        return folded
    domain = _DOMAIN.match(folded)
    if domain is None:
        raise BadFilter(phrase(N_("customer: an address or a domain, e.g. customer:@kund.example")))
    return f"@{domain.group(1)}"


_VALUES = {
    "status": _status,
    "label": _label,
    "type": _type,
    "owner": _owner,
    "customer": _customer,
}


def parse_moment(key: str, value: str) -> Moment:
    """A date (local to the rules' zone), or a time with its zone."""
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadFilter(phrase(N_("{key}: a date like 2026-11-01"), key=key))
    return moment


def _example(key: Key) -> dict[str, str]:
    examples = {
        "status": "status:open",
        "label": "label:vatten",
        "type": "type:fel",
        "owner": "owner:me",
        "customer": "customer:@kund.example",
        "since": "since:2026-11-01",
        "until": "until:2026-11-30",
    }
    return {"key": key, "example": examples[key]}
