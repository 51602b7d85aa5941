"""Personal numbers masked in what we show or send on: `19800101-****`. Pure.

Masked: Swedish personal identity numbers and coordination numbers (date and checksum
valid, with or without century and separator), payment card numbers (Luhn checksum),
IBANs (their checksum), and bank account numbers and door codes written as such
("kontonummer 8327-9 123 456 789-0", "portkod 1234"). A number that only looks like
one (a wrong checksum, a date that is none) stays as written. The checks are python-stdnum's.

Every mail to staff is masked and most hold nothing to mask, so no pattern is run over a
whole text: each is tried only where one of its matches can begin, found by a cheaper
look (a shorter pattern, or a keyword looked for in the text as a substring).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from stdnum import iban, luhn
from stdnum.exceptions import ValidationError
from stdnum.se import personnummer

from smartmail.mail.casefree import folds_to_ascii, word_starts
from smartmail.mail.parse import ParsedMail

__all__ = ["mask", "masked_any", "masked_mail"]

STARS = "****"

# 19800101-1234, 800101-1234, 8001011234, 198001011234, 800101+1234 (100 years and over)
_IDENTITY = re.compile(r"(?<![\w-])((?:19|20)?\d{6})([-+]?)(\d{4})(?![\w-])")
# 13 to 19 digits, in groups split by single spaces or dashes
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_IBAN = re.compile(r"(?<![\w-])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![\w-])")
_ACCOUNT = re.compile(
    r"(?i)\b(kontonummer|kontonr\.?|bankkonto|konto|clearingnummer|clearingnr\.?"
    r"|account(?:\s+(?:number|no\.?))?)(\s*(?:är|is|:)?\s*)(\d[\d .,-]{3,24}\d)"
)
_DOOR = re.compile(
    r"(?i)\b(portkod(?:en)?|porttelefonkod(?:en)?|dörrkod(?:en)?|entrékod(?:en)?"
    r"|kod(?:en)?\s+till\s+(?:porten|dörren|entrén|huset)|door\s*code|entry\s*code"
    r"|gate\s*code)(\s*(?:är|is|:)?\s*)([0-9A-Z#*]{3,10})\b"
)


# What each pattern cannot match without, cheap to look for first: every mail to staff is
# masked, and most have none of them (a pattern's own scan costs up to 60 us per KB). Each
# begins with its character class, which the regex engine skips ahead to.
_IDENTITY_SHAPE = re.compile(r"\d\d{5}[-+]?\d{4}")  # a phone number 070-1234567 is not one
_IBAN_START = re.compile(r"[A-Z][A-Z]\d\d")  # two never overlap: finditer finds each
_CARD_START = re.compile(r"\d(?:[ -]?\d){12}")
_IDENTITY_OR_CARD = re.compile(r"\d(?:\d{5}[-+]?\d{4}|(?:[ -]?\d){12})")  # one scan, not two
# Where an identity or card number can begin: a digit with no letter, digit, _ or - before it
_NUMBER_BEGINS = re.compile(r"\d(?<![\w-]\d)")

# A word each keyword pattern cannot match without, and how far before it a match can
# begin: "bankkonto", "porttelefonkod" (whitespace right before the word not counted:
# "door   code").
_ACCOUNT_WORDS = ("konto", "clearing", "account")  # not "kontakt"
_ACCOUNT_LEAD = len("bank")
_DOOR_WORDS = ("kod", "code")
_DOOR_LEAD = len("porttelefon")


def mask(text: str) -> str:
    """`text` with every personal number in it masked; the rest as written."""
    text = _masked_numbers(text)
    if folds_to_ascii(text):  # (?i) finds the words where word_starts does not
        return _DOOR.sub(_keyword, _ACCOUNT.sub(_keyword, text))
    text = _sub_at(_ACCOUNT, _keyword, text, _before_words(text, _ACCOUNT_WORDS, _ACCOUNT_LEAD))
    return _sub_at(_DOOR, _keyword, text, _before_words(text, _DOOR_WORDS, _DOOR_LEAD))


def _masked_numbers(text: str) -> str:
    """Identity, IBAN and card numbers masked, in that order."""
    # Nothing the identity or card pattern can match begins before `start` (from 0 again
    # once a number is masked: the text is another)
    either = _IDENTITY_OR_CARD.search(text)
    start = either.start() if either else len(text)
    if found := _IDENTITY_SHAPE.search(text, start):
        begins = _number_begins(text, found.start() - len("19"))
        masked = _sub_at(_IDENTITY, _identity, text, begins)
        start, text = (start, text) if masked == text else (0, masked)
    if found := _IBAN_START.search(text):
        begins = (each.start() for each in _IBAN_START.finditer(text, found.start()))
        masked = _sub_at(_IBAN, _iban, text, begins)
        start, text = (start, text) if masked == text else (0, masked)
    if found := _CARD_START.search(text, start):
        text = _sub_at(_CARD, _card, text, _number_begins(text, found.start()))
    return text


def _number_begins(text: str, start: int) -> Iterator[int]:
    return (each.start() for each in _NUMBER_BEGINS.finditer(text, max(start, 0)))


def _before_words(text: str, words: tuple[str, ...], lead: int) -> Iterator[int]:
    """Each position from `lead` characters (and whitespace) before one of `words` in `text`
    up to the word, in order: where a keyword pattern's match can begin."""
    tried = 0
    for at in word_starts(text, words):
        first = at
        while first > 0 and text[first - 1].isspace():  # what \s matches
            first -= 1
        yield from range(max(first - lead, tried), at + 1)
        tried = at + 1


def _sub_at(
    pattern: re.Pattern[str],
    masked: Callable[[re.Match[str]], str],
    text: str,
    begins: Iterable[int],
) -> str:
    """`pattern.sub(masked, text)` for a pattern whose matches can begin only at `begins`
    (in order): it is tried there, not scanned over the text."""
    pieces: list[str] = []
    done = 0  # text[:done] is in pieces
    for begin in begins:
        # a match at a position, not a slice: its lookbehind and \b see the text before it
        if begin >= done and (found := pattern.match(text, begin)):
            pieces += text[done:begin], masked(found)
            done = found.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def masked_any(text: str) -> bool:
    return mask(text) != text


def is_identity_number(written: str) -> bool:
    """A Swedish personal identity or coordination number (day + 60), checksum included."""
    found = _IDENTITY.fullmatch(written)
    # The Luhn checksum of the last ten digits, which both checks below end with, first: it
    # is the cheap part, and most numbers of the shape (a phone number 0701234567) fail it
    if found is not None and not luhn.is_valid(found[1][-6:] + found[3]):
        return False
    if personnummer.is_valid(written):
        return True
    if found is None:
        return False
    date, separator, serial = found.groups()
    day = int(date[-2:])
    if not 61 <= day <= 91:
        return False
    as_birth = f"{date[:-2]}{day - 60:02d}{separator or '-'}{serial}"
    try:
        personnummer.get_birth_date(as_birth)
    except ValidationError:
        return False
    return True  # its checksum is checked above


def _identity(found: re.Match[str]) -> str:
    if not is_identity_number(found[0]):
        return found[0]
    return f"{found[1]}{found[2] or '-'}{STARS}"


def _card(found: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", found[0])
    if not luhn.is_valid(digits):
        return found[0]
    return f"{STARS} {STARS} {STARS} {digits[-4:]}"


def _iban(found: re.Match[str]) -> str:
    if not iban.is_valid(found[0]):
        return found[0]
    compact = iban.compact(found[0])
    return f"{compact[:4]} {STARS} {compact[-4:]}"


def _keyword(found: re.Match[str]) -> str:
    return f"{found[1]}{found[2]}{STARS}"


def masked_mail(mail: ParsedMail) -> ParsedMail:
    """The mail as it is kept with `privacy: {mask_stored: true}`: subject and texts masked
    (the raw bytes keep the original until their own retention)."""
    return replace(
        mail,
        subject=mask(mail.subject),
        text=mask(mail.text),
        reply_text=mask(mail.reply_text),
        html=mask(mail.html),
    )
