"""Personal numbers masked in what we show or send on: `19800101-****`. Pure.

Masked: Swedish personal identity numbers and coordination numbers (date and checksum
valid, with or without century and separator), payment card numbers (Luhn checksum),
IBANs (their checksum), and bank account numbers and door codes written as such
("kontonummer 8327-9 123 456 789-0", "portkod 1234"). A number that only looks like
one (a wrong checksum, a date that is none) stays as written. The checks are python-stdnum's.
"""

from __future__ import annotations

import re
from dataclasses import replace

from stdnum import iban, luhn
from stdnum.exceptions import ValidationError
from stdnum.se import personnummer

from smartmail.mail.casefree import folds_to_ascii
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
# masked, and most have none of them (a pattern's own scan costs up to 60 us per KB).
_IDENTITY_SHAPE = re.compile(r"\d{6}[-+]?\d{4}")  # a phone number 070-1234567 is not one
_IBAN_START = re.compile(r"[A-Z]{2}\d\d")
_CARD_START = re.compile(r"\d(?:[ -]?\d){12}")
_ACCOUNT_WORDS = ("konto", "clearing", "account")  # not "kontakt"
_DOOR_WORDS = ("kod", "code")


def mask(text: str) -> str:
    """`text` with every personal number in it masked; the rest as written."""
    if _IDENTITY_SHAPE.search(text):
        text = _IDENTITY.sub(_identity, text)
    if _IBAN_START.search(text):
        text = _IBAN.sub(_iban, text)
    if _CARD_START.search(text):
        text = _CARD.sub(_card, text)
    lower = text.lower()
    odd = folds_to_ascii(text)  # then the keyword patterns look for themselves
    if odd or any(word in lower for word in _ACCOUNT_WORDS):
        text = _ACCOUNT.sub(_keyword, text)
    if odd or any(word in lower for word in _DOOR_WORDS):
        text = _DOOR.sub(_keyword, text)
    return text


def masked_any(text: str) -> bool:
    return mask(text) != text


def is_identity_number(written: str) -> bool:
    """A Swedish personal identity or coordination number (day + 60), checksum included."""
    if personnummer.is_valid(written):
        return True
    found = _IDENTITY.fullmatch(written)
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
    return luhn.is_valid(f"{date[-6:]}{serial}")


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
