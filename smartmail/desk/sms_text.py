"""The words of an SMS to the person on call: short, plain, in GSM letters. Pure.

An SMS of at most 160 characters of the GSM 7-bit alphabet is one message; a single
character outside it (an emoji, a Chinese letter) makes the whole SMS UCS-2, 70 to a
message. So what a sender wrote is read into GSM letters (Swedish letters are among them;
`á` becomes `a`, what has no such letter `?`), without line breaks or control characters,
and the problem's first line, then the sender, then the category are shortened until the
SMS fits in one message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from smartmail.mail.phrases import N_, phrase, render

SMS_LIMIT = 160
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€")  # two characters each: an escape, then the sign
_ELLIPSIS = "..."

PAGE = N_("Case {number} ({priority}): {category}. {who}: {problem} Reply OK {number} to take it.")
ESCALATION = N_(
    "Nobody has taken case {number} ({priority}): {category}. {who}: {problem} "
    "Reply OK {number} to take it."
)
BURST = N_("{count} urgent cases: {cases}. Reply OK and a number to take one.")


@dataclass(frozen=True)
class CaseFacts:
    """What an SMS says about one case."""

    number: int
    priority: str
    category: str
    who: str  # the customer: name, else address
    problem: str  # the first line of what they wrote


def gsm_length(text: str) -> int:
    """How many GSM 7-bit characters `text` takes (an extended sign takes two)."""
    return sum(2 if char in _GSM_EXTENDED else 1 for char in text)


def gsm_text(text: str) -> str:
    """`text` in GSM letters on one line: no control or invisible characters, single spaces,
    a letter with an accent GSM lacks as its base letter, anything else as `?`."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        if char.isspace() or unicodedata.category(char)[0] in "CZ":
            out.append(" " if char.isspace() or unicodedata.category(char) == "Zs" else "")
        elif char in _GSM_BASIC or char in _GSM_EXTENDED:
            out.append(char)
        else:
            base = unicodedata.normalize("NFKD", char)[:1]
            out.append(base if base in _GSM_BASIC and base.isalnum() else "?")
    return " ".join("".join(out).split())


def first_line(text: str) -> str:
    """The first line of a problem with words on it."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _shorten(text: str, length: int) -> str:
    if len(text) <= length:
        return text
    if length <= len(_ELLIPSIS):
        return ""
    return text[: length - len(_ELLIPSIS)].rstrip() + _ELLIPSIS


def _fit(template: str, fixed: dict[str, str | int], fields: dict[str, str], lang: str) -> str:
    """The template filled in, the fields shortened in order until it fits in one SMS."""
    values = {name: gsm_text(value) for name, value in fields.items()}

    def rendered() -> str:
        return gsm_text(render(phrase(template, **fixed, **values), lang))

    text = rendered()
    for name in values:
        over = gsm_length(text) - SMS_LIMIT
        if over <= 0:
            break
        values[name] = _shorten(values[name], max(0, len(values[name]) - over))
        text = rendered()
    return text


def page_text(facts: CaseFacts, language: str, escalation: bool = False) -> str:
    """The SMS about one new case: its number, category, sender, problem, how to take it."""
    return _fit(
        ESCALATION if escalation else PAGE,
        {"number": facts.number, "priority": gsm_text(facts.priority)},
        {"problem": first_line(facts.problem), "who": facts.who, "category": facts.category},
        language,
    )


def burst_text(cases: Sequence[CaseFacts], language: str) -> str:
    """One SMS for several cases queued within minutes: each number with its category."""
    listed = ", ".join(f"{c.number} {c.category}" for c in cases)
    return _fit(BURST, {"count": len(cases)}, {"cases": listed}, language)
