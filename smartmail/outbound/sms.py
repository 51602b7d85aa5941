"""How an SMS leaves: a 46elks-style HTTP API, a JSON webhook, or a file in `<data dir>/sms/`.

Each provider's `send` delivers one SMS or raises: TemporaryFailure when trying again may
help (the gateway away, 5xx, 408, 429), PermanentFailure when it will not (any other 4xx,
an invalid number). Credentials come from SMARTMAIL_SMS alone, never from the rules.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from smartmail.config import SmsGateway
from smartmail.errors import PermanentFailure, TemporaryFailure

# httpx (a tenth of the import of `smartmail run`) is loaded when an SMS gateway is used.
if TYPE_CHECKING:
    import httpx

__all__ = [
    "ElksProvider",
    "LogProvider",
    "SmsProvider",
    "WebhookProvider",
    "make_sms_provider",
    "signature",
]

SIGNATURE_HEADER = "X-Smartmail-Signature"
_RETRY_CODES = frozenset({408, 425, 429})


class SmsProvider(Protocol):
    def send(self, number: str, text: str) -> None:
        """Deliver one SMS to `number` (E.164) or raise TemporaryFailure / PermanentFailure."""


class LogProvider:
    """The default: each SMS is one file under `<data dir>/sms/`, the number, then the text."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.counter = 0

    def send(self, number: str, text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.counter += 1
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{os.getpid()}-{self.counter:04d}.txt"
        path.write_text(f"To: {number}\n\n{text}\n", encoding="utf-8")


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: the HMAC-SHA256 of a request's body with the shared secret."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _check(response: httpx.Response, where: str) -> None:
    code = response.status_code
    if code < 300:
        return
    message = f"{where}: {code} {response.text[:200]!r}"
    if code >= 500 or code in _RETRY_CODES:
        raise TemporaryFailure(message)
    raise PermanentFailure(message)


class _HttpProvider:
    def __init__(self, gateway: SmsGateway, timeout: float = 20.0) -> None:
        self.gateway = gateway
        import httpx

        self.timeout = timeout
        self.where = f"SMS gateway {httpx.URL(gateway.url).host}"
        self.auth = (
            httpx.BasicAuth(gateway.username, gateway.password or "") if gateway.username else None
        )

    def _post(self, **request: object) -> None:
        import httpx

        try:
            with httpx.Client(timeout=self.timeout, auth=self.auth) as client:
                response = client.post(self.gateway.url, **request)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"{self.where}: {exc}") from exc
        _check(response, self.where)


class ElksProvider(_HttpProvider):
    """46elks' `/a1/sms`: a form POST (`from`, `to`, `message`) with basic auth."""

    def send(self, number: str, text: str) -> None:
        self._post(data={"from": self.gateway.sender, "to": number, "message": text})


class WebhookProvider(_HttpProvider):
    """A JSON POST (`from`, `to`, `message`), signed when SMARTMAIL_SMS gives a `secret`."""

    def send(self, number: str, text: str) -> None:
        body = json.dumps(
            {"from": self.gateway.sender, "to": number, "message": text}, ensure_ascii=False
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.gateway.sign_secret:
            headers[SIGNATURE_HEADER] = signature(self.gateway.sign_secret, body)
        self._post(content=body, headers=headers)


def make_sms_provider(gateway: SmsGateway, sms_dir: Path) -> SmsProvider:
    if gateway.kind == "46elks":
        return ElksProvider(gateway)
    if gateway.kind == "webhook":
        return WebhookProvider(gateway)
    return LogProvider(sms_dir)
