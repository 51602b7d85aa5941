"""Signed case tokens in subjects and per-person reply addresses. Pure: no database, no clock.

A subject token looks like ``[#123-k4m2q8xz]``: the case number and the first 40 bits of an
HMAC over it, in lower-case base32 so that re-cased subjects still verify. A reply address
looks like ``support+123-ab3d5fgh2k@example.org``: bound to one case AND one person, so it
proves that a mail answers something we sent to that person. A bounce address (VERP) looks like
``support+b-4711-ab3d5fgh2k@example.org``: the envelope sender of one mail we sent (4711 is
its message row), so that a bounce names the mail it is about, and nobody can forge one.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass

_SUBJECT_TOKEN = re.compile(r"\[?\s*#\s*(\d{1,9})\s*-\s*([a-z2-7]{8})\s*\]?", re.IGNORECASE)
_REPLY_LOCAL = re.compile(r"^(?P<base>[^+]+)\+(?P<number>\d{1,9})-(?P<sig>[a-z2-7]{10})$", re.I)
_BOUNCE_LOCAL = re.compile(r"^(?P<base>[^+]+)\+b-(?P<number>\d{1,12})-(?P<sig>[a-z2-7]{10})$", re.I)


@functools.lru_cache(maxsize=4096)  # each mail signs its case's token and addresses again
def _sign(secret: bytes, message: str, length: int) -> str:
    digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:length]


def case_token(number: int, secret: bytes) -> str:
    return f"[#{number}-{_sign(secret, f'case:{number}', 8)}]"


def find_case_number(subject: str, secret: bytes) -> int | None:
    """The case of the first genuine token in `subject`; forged or altered ones are skipped."""
    for match in _SUBJECT_TOKEN.finditer(subject):
        number, signature = int(match.group(1)), match.group(2).lower()
        if hmac.compare_digest(signature, _sign(secret, f"case:{number}", 8)):
            return number
    return None


def tokenized_subject(subject: str, number: int, secret: bytes) -> str:
    """`subject` carrying the case token once, at the end, where mail clients leave it alone."""
    token = case_token(number, secret)
    stripped = _SUBJECT_TOKEN.sub("", subject).strip()
    return f"{stripped} {token}".strip()


def reply_address(function_address: str, number: int, person: str, secret: bytes) -> str:
    local, _, domain = function_address.partition("@")
    signature = _sign(secret, f"reply:{number}:{person.lower()}", 10)
    return f"{local}+{number}-{signature}@{domain}"


@dataclass(frozen=True)
class ReplyAddress:
    base: str  # the function address it was made from
    number: int
    signature: str

    def proves(self, person: str, secret: bytes) -> bool:
        """True when this address was made for `person` on this case."""
        expected = _sign(secret, f"reply:{self.number}:{person.lower()}", 10)
        return hmac.compare_digest(self.signature.lower(), expected)


def parse_reply_address(address: str) -> ReplyAddress | None:
    local, _, domain = address.lower().partition("@")
    match = _REPLY_LOCAL.match(local)
    if not match or not domain:
        return None
    return ReplyAddress(f"{match['base']}@{domain}", int(match["number"]), match["sig"])


def base_address(address: str) -> str:
    """`support+anything@example.org` -> `support@example.org` (lower case)."""
    local, _, domain = address.lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def bounce_address(function_address: str, message_number: int, secret: bytes) -> str:
    """The return path (envelope sender) of our mail stored as message `message_number`."""
    local, _, domain = function_address.lower().partition("@")
    signature = _sign(secret, f"bounce:{message_number}", 10)
    return f"{local.split('+', 1)[0]}+b-{message_number}-{signature}@{domain}"


@dataclass(frozen=True)
class BounceAddress:
    base: str  # the function address it was made from
    number: int  # the message row of the mail it was the return path of
    signature: str

    def genuine(self, secret: bytes) -> bool:
        """True when we made this address (a guessed or altered one is not)."""
        expected = _sign(secret, f"bounce:{self.number}", 10)
        return hmac.compare_digest(self.signature.lower(), expected)


def parse_bounce_address(address: str) -> BounceAddress | None:
    """The parts of an address shaped like our bounce addresses; None for any other."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    match = _BOUNCE_LOCAL.match(local)
    if not match or not domain:
        return None
    return BounceAddress(f"{match['base']}@{domain}", int(match["number"]), match["sig"])
