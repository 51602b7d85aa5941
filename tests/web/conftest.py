"""The web edge served for real on loopback, in a thread of its own, for a real HTTP client."""

from __future__ import annotations

import asyncio
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web
from PIL import Image

from smartmail.app import App, open_app
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.web.pages import Store
from smartmail.web.server import build_web_app, own_writer
from tests.conftest import TEST_RULES, MemoryTransport, settings_under

# The test rules, with one category offered on the page and limits small enough to reach.
WEB_RULES = TEST_RULES.replace(
    "  - name: Skador i lägenheten\n", "  - name: Skador i lägenheten\n    form: true\n"
) + (
    "web_form:\n"
    "  max_files: 3\n"
    "  max_file_mb: 1\n"
    "  max_total_mb: 2\n"
    "  min_fill_seconds: 0\n"
    "  per_client: {posts: 30, within: 1h}\n"
    "  per_email: {posts: 10, within: 1h}\n"
)
WEB_URL = "http://felanmalan.bostad.example"  # http: the test client keeps its cookie


def jpeg(size: tuple[int, int] = (64, 48), colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


class WebServer:
    """build_web_app(app) on 127.0.0.1 and a free port, its loop in a thread."""

    def __init__(self, app: App, store: Store | None = None) -> None:
        self.app = app
        self.store = store
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> WebServer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        store = self.store or own_writer(self.app).process
        self.runner = web.AppRunner(build_web_app(self.app, store), shutdown_timeout=2)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def __exit__(self, *exc: object) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Browserless:
    """A person's visits as an HTTP client makes them: load the page, fill in, send."""

    def __init__(self, server: WebServer) -> None:
        self.server = server
        self.http = requests.Session()

    def get(self, path: str = "/", **kwargs: Any) -> requests.Response:
        return self.http.get(self.server.url + path, timeout=10, **kwargs)

    def token(self, path: str = "/") -> str:
        page = self.get(path)
        found = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    def post(
        self,
        fields: dict[str, str],
        files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
        path: str = "/",
        token: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        data = {"form_token": self.token(path) if token is None else token, **fields}
        parts = [("photos", (name, payload, kind)) for name, payload, kind in files]
        # requests sends a form without files urlencoded; the page's form is always multipart
        parts = parts or [("photos", ("", b"", "application/octet-stream"))]
        return self.http.post(self.server.url + path, data=data, files=parts, timeout=30, **kwargs)


GOOD = {
    "name": "Eva Svensson",
    "email": "eva@kund.example",
    "phone": "070-123 45 67",
    "address": "Storgatan 1, lgh 1203",
    "category": "Skador i lägenheten",
    "description": "Det droppar från kranen i badrummet.\nSedan i går kväll.",
}


@pytest.fixture
def web_rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(WEB_RULES, encoding="utf-8")
    return path


@pytest.fixture
def web_app(tmp_path: Path, web_rules: Path) -> Iterator[App]:
    settings = settings_under(tmp_path, web_rules, SMARTMAIL_WEB_URL=WEB_URL)
    application = open_app(settings, transport=MemoryTransport())
    yield application
    application.engine.dispose()


@pytest.fixture
def served(web_app: App) -> Iterator[WebServer]:
    with WebServer(web_app) as server:
        yield server


@pytest.fixture
def visitor(served: WebServer) -> Browserless:
    return Browserless(served)


async def refuse_to_store(raw: bytes, envelope: Envelope) -> Outcome:
    from smartmail.errors import TemporaryFailure

    raise TemporaryFailure("the database is away")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Each test's report on its item (`rep_call`), so a fixture can tell it failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
