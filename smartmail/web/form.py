"""The fault-report page, `/`: the form, and a post through the pipeline as a mail.

A post is checked in this order: the client's rate limit (before its body is read), its
size (413 before it is read), the honeypot, the form token (expired, or sent back faster
than a person fills in a form), each field, the e-mail address's rate limit. Only then is
it a mail, stored by the daemon's writer like mail from SMTP; the page answers once that
has committed, with the case number, or 503 when it could not be stored now.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from smartmail.errors import MailRefused, TemporaryFailure
from smartmail.mail.addr import recipient
from smartmail.mail.phrases import N_, Phrase, phrase, render
from smartmail.mail.tokens import base_address
from smartmail.pipeline.envelope import Envelope
from smartmail.rules.model import Rules
from smartmail.store.models import utcnow
from smartmail.web.message import Report, body_text, one_line, report_mail
from smartmail.web.pages import WEB, Web
from smartmail.web.protect import HONEYPOT_FIELD, NONCE_COOKIE, TOKEN_FIELD, TokenCheck
from smartmail.web.uploads import FILE_FIELD, NotAForm, Posted, TooLarge, read_post

log = logging.getLogger(__name__)

FIELDS = ("name", "email", "phone", "address", "category", "description")
OTHER = "other"
MAX_LINE = 200
MAX_DESCRIPTION = 10_000
_PHONE = re.compile(r"^\+?[0-9 ()./-]{5,40}$")

LABELS = {
    "name": N_("Name"),
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "address": N_("Address and apartment number"),
    "category": N_("Category"),
    "description": N_("Description"),
    FILE_FIELD: N_("Photos or PDF files"),
}


def labels(language: str) -> dict[str, str]:
    return {name: render(phrase(text), language) for name, text in LABELS.items()}


async def show_form(request: web.Request) -> web.Response:
    return form_page(request, request.app[WEB], {}, {})


def form_page(
    request: web.Request,
    shared: Web,
    values: dict[str, str],
    problems: dict[str, Phrase],
    status: int = 200,
    notice: Phrase | None = None,
) -> web.Response:
    """The form, with what was written and what is wrong with it, and a fresh token."""
    language = shared.language(request)
    rules = shared.app.rules()
    nonce = shared.tokens.nonce(request.cookies.get(NONCE_COOKIE))
    limits = rules.web_form
    response = shared.page(
        request,
        "form.html",
        phrase(N_("Report a fault")),
        status,
        values={name: values.get(name, "") for name in FIELDS},
        problems={name: render(p, language) for name, p in problems.items()},
        labels=labels(language),
        notice=render(notice, language) if notice else "",
        categories=rules.form_categories,
        max_files=limits.max_files,
        max_file_mb=limits.max_file_mb,
        token=shared.tokens.issue(nonce, "form"),
        token_field=TOKEN_FIELD,
        honeypot=HONEYPOT_FIELD,
    )
    shared.set_nonce(response, nonce)
    return response


async def post_form(request: web.Request) -> web.Response:
    shared = request.app[WEB]
    rules = shared.app.rules()
    limits = rules.web_form
    if not shared.limits.hit(limits.per_client, "client", shared.client(request)):
        return too_many(request, shared)
    try:
        posted = await read_post(request, limits, {*FIELDS, TOKEN_FIELD, HONEYPOT_FIELD})
    except TooLarge:
        return too_large(request, shared, limits.max_total_mb)
    except NotAForm:
        return not_sent(request, shared)

    def again(notice: Phrase) -> web.Response:
        return form_page(request, shared, posted.fields, {}, 400, notice)

    refused = guarded(request, shared, posted, "form", limits.min_fill_seconds, again)
    if refused is not None:
        return refused
    report, problems = check_report(posted, rules, shared.app.pipeline.function_addresses())
    if report is None:
        return form_page(request, shared, posted.fields, problems, 400)
    if not shared.limits.hit(limits.per_email, "email", report.email):
        return too_many(request, shared)
    address = shared.app.pipeline.address()
    raw = report_mail(report, address, rules.language, utcnow())
    try:
        outcome = await shared.store(raw, Envelope("web", report.email, (address,)))
    except TemporaryFailure as exc:
        log.warning("a post of the fault-report page could not be stored: %s", exc)
        notice = phrase(
            N_("Your report could not be saved just now. Please try again in a moment.")
        )
        return form_page(request, shared, posted.fields, {}, 503, notice)
    shared.stored()
    log.info("web report stored: %s case %s", outcome.kind, outcome.case_number)
    return shared.page(
        request,
        "done.html",
        phrase(N_("Thank you, we have received your report")),
        number=outcome.case_number or 0,
        email=report.email,
    )


def guarded(
    request: web.Request,
    shared: Web,
    posted: Posted,
    purpose: str,
    min_fill: int,
    again: Callable[[Phrase], web.Response],
) -> web.Response | None:
    """The honeypot and the form token: None when the post may be read on. A post sent
    back faster than people fill in a form is not taken; `again` shows the page once more,
    with what was written, to be sent again."""
    if posted.fields.get(HONEYPOT_FIELD):
        log.info("a post filled in the honeypot field: dropped")
        return not_sent(request, shared)
    token = posted.fields.get(TOKEN_FIELD, "")
    checked = shared.tokens.check(token, request.cookies.get(NONCE_COOKIE), purpose, min_fill)
    if checked is TokenCheck.OK:
        return None
    if checked is TokenCheck.TOO_FAST:
        log.info("a post came back faster than a person fills in the form: not taken")
        return again(phrase(N_("Please check what you wrote and send it again.")))
    return shared.problem(
        request,
        403,
        phrase(N_("The form has expired")),
        phrase(
            N_(
                "The form was open too long, or cookies are blocked. Load the page again "
                "and send it once more."
            )
        ),
    )


@dataclass
class _Checking:
    fields: dict[str, str]
    problems: dict[str, Phrase]

    def line(self, name: str, required: bool) -> str:
        value = one_line(self.fields.get(name, ""), MAX_LINE + 1)
        if len(value) > MAX_LINE:
            self.problems[name] = phrase(N_("This is too long."))
        elif required and not value:
            self.problems.setdefault(name, phrase(N_("This must be filled in.")))
        return value


def check_report(
    posted: Posted, rules: Rules, own_addresses: frozenset[str]
) -> tuple[Report | None, dict[str, Phrase]]:
    """The report the post makes, or None and what is wrong with which field."""
    checking = _Checking(posted.fields, dict(posted.problems))
    name = checking.line("name", True)
    email = _email(checking, own_addresses)
    phone = checking.line("phone", False)
    if phone and not _PHONE.match(phone):
        checking.problems["phone"] = phrase(
            N_("Write the phone number with digits, e.g. 070-123 45 67.")
        )
    address = checking.line("address", True)
    category = checking.line("category", False)
    if category == OTHER:
        category = ""
    if category and category not in rules.form_categories:
        checking.problems["category"] = phrase(N_("Choose one of the categories in the list."))
    description = body_text(posted.fields.get("description", ""))
    if not description:
        checking.problems["description"] = phrase(N_("This must be filled in."))
    elif len(description) > MAX_DESCRIPTION:
        checking.problems["description"] = phrase(N_("This is too long."))
    if checking.problems:
        return None, checking.problems
    files = tuple(posted.files)
    return Report(name, email, phone, address, category, description, files), {}


def _email(checking: _Checking, own_addresses: frozenset[str]) -> str:
    email = checking.line("email", True).lower()
    if not email or "email" in checking.problems:
        return email
    try:
        recipient(email)
    except MailRefused:
        checking.problems["email"] = phrase(N_("Write an e-mail address such as name@example.com."))
        return email
    if base_address(email) in own_addresses:
        checking.problems["email"] = phrase(N_("Write your own e-mail address."))
    return email


def too_many(request: web.Request, shared: Web) -> web.Response:
    return shared.problem(
        request,
        429,
        phrase(N_("Too many reports")),
        phrase(
            N_(
                "Many reports have come from here or from this e-mail address in a short "
                "time. Please wait a while and try again, or write to us by e-mail."
            )
        ),
    )


def too_large(request: web.Request, shared: Web, max_mb: int) -> web.Response:
    """413; the connection is closed after it, the rest of the body never read."""
    response = shared.problem(
        request,
        413,
        phrase(N_("Too large")),
        phrase(
            N_("All files together may be at most {size} MB. Send fewer or smaller files."),
            size=max_mb,
        ),
    )
    response.force_close()
    return response


def not_sent(request: web.Request, shared: Web) -> web.Response:
    return shared.problem(
        request,
        400,
        phrase(N_("Not sent")),
        phrase(N_("Your report could not be sent. Load the page again and send it once more.")),
    )
