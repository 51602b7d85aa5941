"""What keeps the page safe on the open internet, without server-side sessions.

- A signed form token (itsdangerous, with `SMARTMAIL_SECRET`) carries when the form was
  handed out and a random value that is also in a cookie of the same browser (SameSite,
  HttpOnly): a post needs both, made at most `FORM_MAX_AGE` ago and at least the rules'
  `min_fill_seconds` ago (a bot sends the form back at once).
- A honeypot field, hidden from people, that bots fill in.
- Rate limits per client address and per e-mail address (the `limits` library, in memory).
- The client address is the connection's, or `X-Forwarded-For`'s only when the connection
  comes from a proxy named in `SMARTMAIL_WEB_TRUSTED_PROXIES`.
"""

from __future__ import annotations

import secrets
import time
from enum import Enum
from ipaddress import IPv4Network, IPv6Network, ip_address

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from smartmail.rules.model import RateLimit

FORM_MAX_AGE = 2 * 3600  # seconds a form may stay open before it must be loaded again
NONCE_COOKIE = "smartmail_form"
TOKEN_FIELD = "form_token"  # noqa: S105 (a field name, not a secret)
HONEYPOT_FIELD = "website"  # people never see it; bots fill in a field so named
_NONCE_LENGTH = 22


class TokenCheck(Enum):
    OK = "ok"
    EXPIRED = "expired"  # too old, or made for another browser: load the form again
    TOO_FAST = "too_fast"  # sent back quicker than a person fills it in


class FormTokens:
    def __init__(self, secret: bytes) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="smartmail-web-form")

    @staticmethod
    def nonce(cookie: str | None) -> str:
        """The browser's value: the one in its cookie, else a new one (for a new cookie)."""
        if (
            cookie
            and len(cookie) == _NONCE_LENGTH
            and cookie.replace("-", "").replace("_", "").isalnum()
        ):
            return cookie
        return secrets.token_urlsafe(16)

    def issue(self, nonce: str, purpose: str) -> str:
        return self.serializer.dumps([nonce, purpose])

    def check(self, token: str, cookie: str | None, purpose: str, min_age: int) -> TokenCheck:
        try:
            (nonce, made_for), issued = self.serializer.loads(
                token, max_age=FORM_MAX_AGE, return_timestamp=True
            )
        except (SignatureExpired, BadSignature, ValueError, TypeError):
            return TokenCheck.EXPIRED
        if not cookie or not secrets.compare_digest(str(nonce), cookie) or made_for != purpose:
            return TokenCheck.EXPIRED
        if time.time() - issued.timestamp() < min_age:
            return TokenCheck.TOO_FAST
        return TokenCheck.OK


class PostLimits:
    """How many posts a client address and an e-mail address made lately (in memory)."""

    def __init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, rate: RateLimit, kind: str, who: str) -> bool:
        """Count one post by `who`; False when that was one too many."""
        seconds = max(1, int(rate.within.total_seconds()))
        item = RateLimitItemPerSecond(rate.posts, seconds, namespace="web")
        return self.limiter.hit(item, kind, who.lower())


Networks = tuple[IPv4Network | IPv6Network, ...]


def client_address(peer: str | None, forwarded: list[str], trusted: Networks) -> str:
    """Who sent the request: the connection's address, unless that is a trusted proxy;
    then the nearest address in X-Forwarded-For that is not one of the proxies."""
    if not peer or not _within(peer, trusted):
        return peer or ""
    hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            address = ip_address(hop)
        except ValueError:
            return peer  # a proxy of ours writes addresses: this one was made up before it
        if not _within(str(address), trusted):
            return str(address)
    return peer


def _within(address: str, networks: Networks) -> bool:
    try:
        found = ip_address(address)
    except ValueError:
        return False
    return any(found in network for network in networks)
