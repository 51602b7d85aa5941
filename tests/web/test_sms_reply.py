"""The SMS gateway's callback, served by aiohttp's own test server: `OK 123` from the phone
of the person on call takes the case; a wrong secret, a stranger or an unsigned webhook
changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from smartmail.app import App, open_app
from smartmail.outbound.sms import signature
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Case, Event, SmsOutbox
from smartmail.web.sms_reply import add_sms_routes
from tests.conftest import MemoryTransport, settings_under
from tests.rules.on_call_rules import ON_CALL_RULES

NIGHT = datetime(2026, 12, 5, 22, 40, tzinfo=ZoneInfo("Europe/Stockholm")).astimezone(UTC)
SECRET = "r3ply-s3cret"


def make_app(tmp_path: Path, sms: str) -> App:
    path = tmp_path / "rules.yaml"
    path.write_text(ON_CALL_RULES, encoding="utf-8")
    return open_app(settings_under(tmp_path, path, SMARTMAIL_SMS=sms), MemoryTransport())


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    application = make_app(tmp_path, f"46elks://u:p@api.46elks.com?reply_secret={SECRET}")
    yield application
    application.engine.dispose()


def urgent_case(app: App) -> int:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "eva@kund.example", "felanmalan@bostad.example", "x"
    msg.set_content("Stopp i avloppet")
    outcome = app.pipeline.process(msg.as_bytes(), Envelope("smtp", "eva@kund.example", ()), NIGHT)
    assert outcome.case_number is not None
    return outcome.case_number


def against(app: App, talk: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    """`talk` to a web app with the SMS routes, on aiohttp's test server on loopback."""

    async def run() -> None:
        web_app = web.Application()
        add_sms_routes(web_app, app)
        async with TestClient(TestServer(web_app, host="127.0.0.1")) as client:
            await talk(client)

    asyncio.run(run())


def taken(app: App, number: int) -> list[Event]:
    with transaction(app.engine) as session:
        return list(
            session.exec(select(Event).where(Event.case_id == number, Event.kind == "taken"))
        )


def owner(app: App, number: int) -> str | None:
    with transaction(app.engine) as session:
        case = session.get(Case, number)
        assert case is not None
        return case.assignee


def test_ok_and_the_number_from_an_on_call_phone_takes_the_case(app: App) -> None:
    number = urgent_case(app)
    assert owner(app, number) == "lisa@bostad.example"  # on call this week

    async def talk(client: TestClient[Any, Any]) -> None:
        form = {"from": "+46701234567", "to": "+46766860000", "message": f"ok {number} på väg"}
        response = await client.post(f"/sms/reply/{SECRET}", data=form)
        assert response.status == 200
        assert await response.text() == f"Ärende {number} är ditt."

    against(app, talk)
    [event] = taken(app, number)
    assert (event.actor, json.loads(event.detail)) == ("kalle@bostad.example", {"via": "sms"})
    assert owner(app, number) == "kalle@bostad.example"
    with transaction(app.engine) as session:  # the page to Lisa is no longer needed
        assert session.exec(select(SmsOutbox.status)).all() == ["dropped"]


@pytest.mark.parametrize("path", ["/sms/reply/wrong", f"/sms/reply/{SECRET}x", "/sms/reply/"])
def test_a_wrong_secret_is_no_such_page(app: App, path: str) -> None:
    number = urgent_case(app)

    async def talk(client: TestClient[Any, Any]) -> None:
        form = {"from": "+46701234567", "message": f"OK {number}"}
        response = await client.post(path, data=form)
        assert response.status == 404

    against(app, talk)
    assert taken(app, number) == []


@pytest.mark.parametrize(
    ("sender", "message", "answer"),
    [
        ("+46709999999", "OK {n}", ""),  # a stranger: nothing, and no word back
        ("eva@kund.example", "OK {n}", ""),
        ("0701234567", "Vad gäller det?", "Svara OK och ärendets nummer"),
        ("0701234567", "OK 999", "Det finns inget öppet ärende 999."),
    ],
)
def test_what_takes_nothing(app: App, sender: str, message: str, answer: str) -> None:
    number = urgent_case(app)

    async def talk(client: TestClient[Any, Any]) -> None:
        form = {"from": sender, "message": message.format(n=number)}
        response = await client.post(f"/sms/reply/{SECRET}", data=form)
        assert response.status == 200
        assert (await response.text()).startswith(answer)

    against(app, talk)
    assert taken(app, number) == []


def test_a_webhook_reply_must_carry_the_gateways_signature(tmp_path: Path) -> None:
    app = make_app(tmp_path, f"webhook+https://sms.example/out?secret=s1&reply_secret={SECRET}")
    number = urgent_case(app)
    body = json.dumps({"from": "+46707654321", "message": f"OK {number}"}).encode()

    async def talk(client: TestClient[Any, Any]) -> None:
        headers = {"Content-Type": "application/json"}
        unsigned = await client.post(f"/sms/reply/{SECRET}", data=body, headers=headers)
        assert unsigned.status == 403
        forged = {**headers, "X-Smartmail-Signature": signature("guess", body)}
        assert (await client.post(f"/sms/reply/{SECRET}", data=body, headers=forged)).status == 403
        signed = {**headers, "X-Smartmail-Signature": signature("s1", body)}
        response = await client.post(f"/sms/reply/{SECRET}", data=body, headers=signed)
        assert response.status == 200

    try:
        against(app, talk)
        assert [e.actor for e in taken(app, number)] == ["lisa@bostad.example"]
    finally:
        app.engine.dispose()


def test_without_a_reply_secret_there_is_no_callback(tmp_path: Path) -> None:
    app = make_app(tmp_path, "log")
    number = urgent_case(app)

    async def talk(client: TestClient[Any, Any]) -> None:
        form = {"from": "+46707654321", "message": f"OK {number}"}
        assert (await client.post("/sms/reply/", data=form)).status == 404
        assert (await client.post("/sms/reply/None", data=form)).status == 404

    try:
        against(app, talk)
        assert taken(app, number) == []
    finally:
        app.engine.dispose()
