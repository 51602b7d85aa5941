"""Signed links to follow a case on the web, without a login. Pure: no database, no clock.

A link looks like ``https://felanmalan.bostad.example/case/12-mb3k9q-k4m2q8xzab3d5fgh2kq7``:
the case number, when the link was made (seconds since 1970, base 36) and the first 100
bits of an HMAC over both and the customer's address, so a link is bound to one case and
one person, and a guessed or altered one verifies for nobody. Staff withdraw the links of
a case with ``#revoke-link``: a link made before that moment no longer opens anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

_TOKEN = re.compile(r"^(?P<number>\d{1,9})-(?P<issued>[0-9a-z]{1,7})-(?P<sig>[a-z2-7]{20})$")


def _sign(secret: bytes, number: int, address: str, issued: int) -> str:
    message = f"follow:{number}:{address.strip().lower()}:{issued}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:20]


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        value, rest = divmod(value, 36)
        text = digits[rest] + text
        if not value:
            return text


def follow_token(number: int, address: str, issued: datetime, secret: bytes) -> str:
    """The token of a link to case `number` for `address`, made at `issued`."""
    seconds = int(issued.timestamp())
    return f"{number}-{_base36(seconds)}-{_sign(secret, number, address, seconds)}"


def follow_url(web_url: str, number: int, address: str, issued: datetime, secret: bytes) -> str:
    return f"{web_url.rstrip('/')}/case/{follow_token(number, address, issued, secret)}"


@dataclass(frozen=True)
class FollowToken:
    number: int
    issued: datetime
    signature: str

    def genuine_for(self, address: str, secret: bytes) -> bool:
        """True when we made this token for `address` on this case."""
        seconds = int(self.issued.timestamp())
        expected = _sign(secret, self.number, address, seconds)
        return hmac.compare_digest(self.signature, expected)


def read_follow_token(text: str) -> FollowToken | None:
    """The parts of a text shaped like our tokens; None for any other (it is not checked)."""
    found = _TOKEN.match(text)
    if found is None:
        return None
    try:
        issued = datetime.fromtimestamp(int(found["issued"], 36), UTC)
    except (ValueError, OverflowError, OSError):  # a moment no clock has
        return None
    return FollowToken(int(found["number"]), issued, found["sig"])
