"""SMS replies from the gateway: `OK 123` from an on-call phone takes case 123.

The gateway posts each SMS it receives to `/sms/reply/<reply_secret>` on the web listener:
a form (46elks: `from`, `to`, `message`) or JSON (the webhook gateway; signed in
`X-Smartmail-Signature` when SMARTMAIL_SMS gives it a `secret`). The secret in the URL is
compared in constant time; without one in SMARTMAIL_SMS the route knows no URL at all. An
SMS counts only from the phone of a staff member or manager in the rules; anything else
is ignored, and nobody outside hears why. The answer's text is what a gateway such as
46elks sends back to the phone as an SMS: one line saying what became of the case.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from datetime import datetime
from urllib.parse import parse_qs

from aiohttp import web

from smartmail.app import App
from smartmail.desk import on_call
from smartmail.mail.phrases import N_, phrase, render
from smartmail.outbound.sms import SIGNATURE_HEADER, signature
from smartmail.rules.on_call import staff_with_phone
from smartmail.rules.phones import e164
from smartmail.store.db import transaction
from smartmail.store.models import OPEN_STATUSES, Case, utcnow

__all__ = ["REPLY_PATH", "add_sms_routes", "take_by_sms"]

log = logging.getLogger(__name__)

REPLY_PATH = "/sms/reply/{secret}"
MAX_BODY = 16_384  # an SMS and its envelope; anything larger is no SMS
# "OK 123", "ok #123", "Ok: 123 jag åker", "TA 123": the word, then the case number.
_REPLY = re.compile(r"^\s*(?:ok|ta|take)\s*[:.,]?\s*#?\s*(\d{1,9})\b", re.IGNORECASE)


def add_sms_routes(web_app: web.Application, app: App) -> None:
    """Mount the gateway's reply callback on the web listener."""

    async def reply(request: web.Request) -> web.Response:
        return await _reply(request, app)

    web_app.router.add_post(REPLY_PATH, reply)


async def _reply(request: web.Request, app: App) -> web.Response:
    gateway = app.settings.sms
    given = request.match_info["secret"].encode()
    if not gateway.reply_secret or not hmac.compare_digest(given, gateway.reply_secret.encode()):
        raise web.HTTPNotFound()
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
    if gateway.kind == "webhook" and gateway.sign_secret:
        expected = signature(gateway.sign_secret, body).encode()
        if not hmac.compare_digest(request.headers.get(SIGNATURE_HEADER, "").encode(), expected):
            raise web.HTTPForbidden(text="bad signature")
    fields = _fields(body, request.content_type)
    loop = asyncio.get_running_loop()
    answer = await loop.run_in_executor(
        None, take_by_sms, app, fields.get("from", ""), fields.get("message", ""), utcnow()
    )
    return web.Response(text=answer, content_type="text/plain")


def _fields(body: bytes, content_type: str) -> dict[str, str]:
    """The SMS's fields, as the gateway posted them; whatever does not read is nothing."""
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )
    try:
        form = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: values[-1] for key, values in form.items()}


def take_by_sms(app: App, sender: str, text: str, now: datetime) -> str:
    """What an SMS from `sender` saying `text` does: `OK 123` from a staff member's phone
    takes case 123. Gives the answer for the phone ("" for a stranger: no answer)."""
    rules = app.rules()
    number = e164(sender[:40])
    person = staff_with_phone(rules, number) if number else None
    if person is None:
        log.info("SMS from a number no staff member has: ignored")
        return ""
    language = person.language or rules.language
    found = _REPLY.match(text[:200])
    if found is None:
        return render(
            phrase(N_("Reply OK and the case number to take a case, e.g. OK 123.")), language
        )
    case_number = int(found.group(1))
    with transaction(app.engine) as session:
        case = session.get(Case, case_number)
        if case is None or case.status not in OPEN_STATUSES:
            return render(
                phrase(N_("There is no open case {number}."), number=case_number), language
            )
        on_call.take(session, rules, case, person.email, "sms", now)
    return render(phrase(N_("Case {number} is yours."), number=case_number), language)
