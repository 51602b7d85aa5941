"""The page that follows a case, `/case/<token>`: read-only, with a box to add a message.

The token is the key (see mail/links.py): a wrong, altered or withdrawn one shows nothing
and says so. What the customer adds becomes a mail from them to the reply address we made
for them on the case, so it lands there as their reply, through the same writer and
pipeline as mail (a closed case gets a follow-up case, as by mail).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from smartmail.desk.follow import Followed, followed_case
from smartmail.errors import TemporaryFailure
from smartmail.mail.phrases import N_, Phrase, local_time, phrase, render, status
from smartmail.mail.tokens import reply_address, tokenized_subject
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.store.db import reading
from smartmail.store.models import utcnow
from smartmail.web.form import guarded, labels, not_sent, too_large, too_many
from smartmail.web.message import body_text, reply_mail
from smartmail.web.pages import WEB, Web
from smartmail.web.protect import HONEYPOT_FIELD, NONCE_COOKIE, TOKEN_FIELD
from smartmail.web.uploads import NotAForm, Posted, TooLarge, read_post

log = logging.getLogger(__name__)

MAX_MESSAGE = 10_000


async def _load(shared: Web, token: str) -> Followed | None:
    def read() -> Followed | None:
        # Without SQLite's write lock: mail taken in meanwhile does not wait for a page.
        with reading(shared.app.engine) as session:
            return followed_case(session, token, shared.app.settings.secret)

    return await asyncio.get_running_loop().run_in_executor(None, read)


def no_such_link(request: web.Request, shared: Web) -> web.Response:
    return shared.problem(
        request,
        404,
        phrase(N_("This link does not work")),
        phrase(
            N_(
                "The link is wrong, or it has been withdrawn, so nothing is shown. Use the "
                "link in the latest mail from us, or answer that mail."
            )
        ),
        back=False,
    )


async def show_case(request: web.Request) -> web.Response:
    shared = request.app[WEB]
    followed = await _load(shared, request.match_info["token"])
    if followed is None:
        return no_such_link(request, shared)
    return case_page(request, shared, followed)


def case_page(
    request: web.Request,
    shared: Web,
    followed: Followed,
    values: dict[str, str] | None = None,
    problems: dict[str, Phrase] | None = None,
    status_code: int = 200,
    notice: Phrase | None = None,
) -> web.Response:
    language = shared.language(request)
    rules = shared.app.rules()
    tz = rules.calendar.timezone
    nonce = shared.tokens.nonce(request.cookies.get(NONCE_COOKIE))
    case = {
        "subject": followed.subject,
        "status": render(status(followed.status), language),
        "due": local_time(followed.due_at, tz),
        "messages": [
            {
                "direction": m.direction,
                "at": local_time(m.at, tz),
                "text": m.text,
                "attachments": m.attachments,
            }
            for m in followed.messages
        ],
    }
    response = shared.page(
        request,
        "follow.html",
        phrase(N_("Case {number}"), number=followed.number),
        status_code,
        case=case,
        values={"message": (values or {}).get("message", "")},
        problems={name: render(p, language) for name, p in (problems or {}).items()},
        labels={**labels(language), "message": render(phrase(N_("Message")), language)},
        notice=render(notice, language) if notice else "",
        action=f"{request.path}?lang={language}",
        max_files=rules.web_form.max_files,
        max_file_mb=rules.web_form.max_file_mb,
        token=shared.tokens.issue(nonce, f"case:{followed.number}"),
        token_field=TOKEN_FIELD,
        honeypot=HONEYPOT_FIELD,
    )
    shared.set_nonce(response, nonce)
    return response


async def post_case(request: web.Request) -> web.Response:
    shared = request.app[WEB]
    limits = shared.app.rules().web_form
    if not shared.limits.hit(limits.per_client, "client", shared.client(request)):
        return too_many(request, shared)
    followed = await _load(shared, request.match_info["token"])
    if followed is None:
        return no_such_link(request, shared)
    try:
        posted = await read_post(request, limits, {"message", TOKEN_FIELD, HONEYPOT_FIELD})
    except TooLarge:
        return too_large(request, shared, limits.max_total_mb)
    except NotAForm:
        return not_sent(request, shared)

    def again(notice: Phrase) -> web.Response:
        return case_page(request, shared, followed, posted.fields, {}, 400, notice)

    purpose = f"case:{followed.number}"
    refused = guarded(request, shared, posted, purpose, limits.min_fill_seconds, again)
    if refused is not None:
        return refused
    text, problems = _checked(posted)
    if problems:
        return case_page(request, shared, followed, posted.fields, problems, 400)
    if not shared.limits.hit(limits.per_email, "email", followed.customer):
        return too_many(request, shared)
    try:
        outcome = await _store(shared, followed, text, posted)
    except TemporaryFailure as exc:
        log.warning("a message from a case's page could not be stored: %s", exc)
        notice = phrase(
            N_("Your message could not be saved just now. Please try again in a moment.")
        )
        return case_page(request, shared, followed, posted.fields, {}, 503, notice)
    shared.stored()
    now_shown = await _load(shared, request.match_info["token"]) or followed
    return case_page(request, shared, now_shown, notice=_added(outcome, followed.number))


def _checked(posted: Posted) -> tuple[str, dict[str, Phrase]]:
    problems = dict(posted.problems)
    text = body_text(posted.fields.get("message", ""))
    if len(text) > MAX_MESSAGE:
        problems["message"] = phrase(N_("This is too long."))
    elif not text and not posted.files and not problems:
        problems["message"] = phrase(N_("Write a message or add a file."))
    return text, problems


async def _store(shared: Web, followed: Followed, text: str, posted: Posted) -> Outcome:
    secret = shared.app.settings.secret
    to = reply_address(shared.app.pipeline.address(), followed.number, followed.customer, secret)
    subject = tokenized_subject(f"Re: {followed.subject}", followed.number, secret)
    raw = reply_mail(
        followed.customer,
        followed.customer_name,
        to,
        subject,
        text,
        tuple(posted.files),
        utcnow(),
    )
    return await shared.store(raw, Envelope("web", followed.customer, (to,)))


def _added(outcome: Outcome, number: int) -> Phrase:
    if outcome.case_number and outcome.case_number != number:
        return phrase(
            N_("The case was closed, so your message opened a new case, number {number}."),
            number=outcome.case_number,
        )
    return phrase(N_("Your message was added to the case."))
