"""What every page shares: the templates, the language, the guards, the way to the pipeline.

Pages are jinja2 templates with autoescape on, in Swedish or English (`?lang=`, else the
browser's `Accept-Language`, else the rules' language), their words from the catalogue
(`_("...")`, each one marked in words.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from smartmail.app import App
from smartmail.mail.phrases import LANGUAGES, Phrase, phrase, render
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.web.protect import NONCE_COOKIE, FormTokens, PostLimits, client_address

TEMPLATES = Path(__file__).resolve().parent / "templates"
Store = Callable[[bytes, Envelope], Awaitable[Outcome]]


class Pages:
    """The templates, rendered in one language with `_("...")` for the catalogue's words."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(self, name: str, language: str, status: int = 200, **context: Any) -> web.Response:
        def translate(text: str, **values: str | int) -> str:
            return render(phrase(text, **values), language)

        html = self.env.get_template(name).render(_=translate, language=language, **context)
        response = web.Response(text=html, content_type="text/html", status=status)
        response.headers["Cache-Control"] = "no-store"
        return response


@dataclass
class Web:
    """What the pages share: the App, the writer posts go through, and the guards."""

    app: App
    store: Store  # the Outcome once committed; raises TemporaryFailure if it was not
    stored: Callable[[], None]  # wakes the outbox sender after a post was stored
    pages: Pages = field(default_factory=Pages)
    tokens: FormTokens = field(init=False)
    limits: PostLimits = field(default_factory=PostLimits)

    def __post_init__(self) -> None:
        self.tokens = FormTokens(self.app.settings.secret)

    @property
    def office(self) -> str:
        rules = self.app.rules()
        return rules.name or self.app.pipeline.address()

    def secure_cookies(self) -> bool:
        return self.app.settings.web_url.startswith("https://")

    def client(self, request: web.Request) -> str:
        forwarded = request.headers.getall("X-Forwarded-For", [])
        return client_address(request.remote, forwarded, self.app.settings.web_trusted_proxies)

    def language(self, request: web.Request) -> str:
        return language_of(request, self.app.rules().language)

    def page(
        self,
        request: web.Request,
        name: str,
        title: str | Phrase,
        status: int = 200,
        **context: Any,
    ) -> web.Response:
        language = self.language(request)
        return self.pages.render(
            name,
            language,
            status,
            title=render(title, language),
            office=self.office,
            switch_to=f"{request.path}?",
            **context,
        )

    def problem(
        self, request: web.Request, status: int, title: Phrase, message: Phrase, back: bool = True
    ) -> web.Response:
        language = self.language(request)
        return self.page(
            request,
            "problem.html",
            title,
            status,
            message=render(message, language),
            back=f"/?lang={language}" if back else "",
        )

    def set_nonce(self, response: web.Response, nonce: str) -> None:
        response.set_cookie(
            NONCE_COOKIE,
            nonce,
            httponly=True,
            samesite="Strict",
            secure=self.secure_cookies(),
            path="/",
        )


WEB = web.AppKey("smartmail_web", Web)


def language_of(request: web.Request, default: str) -> str:
    """`?lang=` when it names one we have, else the browser's first choice we have."""
    chosen = request.query.get("lang", "")
    if chosen in LANGUAGES:
        return chosen
    best, best_q = default if default in LANGUAGES else LANGUAGES[0], 0.0
    for item in request.headers.get("Accept-Language", "").split(",")[:20]:
        tag, _, params = item.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        try:
            weight = float(params.strip().removeprefix("q=")) if params else 1.0
        except ValueError:
            continue
        if language in LANGUAGES and weight > best_q:
            best, best_q = language, weight
    return best
