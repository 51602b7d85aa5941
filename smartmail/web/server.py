"""The web edge: an aiohttp Application built from the App, served in the daemon's loop.

`build_web_app(app)` makes the Application with the fault-report page (`/`, form.py), the
pages that follow a case (`/case/<token>`, follow.py) and the stylesheet; other routes may
be added to it before it is served. Every response carries the security headers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

from smartmail.app import App
from smartmail.config import HostPort
from smartmail.inbound.group import GroupCommit
from smartmail.web import follow, form
from smartmail.web.pages import WEB, Store, Web
from smartmail.web.sms_reply import add_sms_routes

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
SHUTDOWN_SECONDS = 5.0  # a request still running when the daemon stops gets this long
OTHER_ROUTES_MAX_BODY = 1024 * 1024  # request.post() of any other route; ours read their own

SECURITY_HEADERS = {
    # No script at all; styles and images from here only; forms post back here only.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The address of a case's page is its key: it must never leave in a Referer.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def build_web_app(
    app: App,
    store: Store | None = None,
    stored: Callable[[], None] | None = None,
) -> web.Application:
    """The Application: `store` is how a post reaches the pipeline (the daemon's group
    commit writer; by default one of the web's own), `stored` what to wake after."""
    application = web.Application(client_max_size=OTHER_ROUTES_MAX_BODY)
    if store is None:
        store = own_writer(app).process
    application[WEB] = Web(app, store, stored or (lambda: None))
    application.on_response_prepare.append(_security_headers)
    application.router.add_get("/", form.show_form)
    application.router.add_post("/", form.post_form)
    application.router.add_get("/case/{token}", follow.show_case)
    application.router.add_post("/case/{token}", follow.post_case)
    application.router.add_static("/static", STATIC)
    add_sms_routes(application, app)  # `OK 123` from an on-call phone, when SMS has a reply secret
    return application


def own_writer(app: App) -> GroupCommit:
    """A group-commit writer of the web's own, for an Application served without a daemon."""
    return GroupCommit(app.pipeline, ThreadPoolExecutor(max_workers=1, thread_name_prefix="web"))


async def serve_web(application: web.Application, where: HostPort) -> web.AppRunner:
    """Serve `application` on `where` in the running loop; the runner stops it."""
    runner = web.AppRunner(application, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, where.host, where.port)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else where.port
    log.info("WEB listening on %s:%s", where.host, port)
    return runner
