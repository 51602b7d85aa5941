"""The SMS outbox against a fake gateway on loopback: retries, a failure for good, the
hourly cap, and each SMS exactly once under concurrent senders and across restarts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from smartmail.app import App, open_app
from smartmail.config import Settings
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Event, SmsOutbox
from tests.conftest import MemoryTransport, settings_under
from tests.outbound.sms_gateway import FakeGateway, fake_gateway
from tests.rules.on_call_rules import LISA, ON_CALL_RULES

NIGHT = datetime(2026, 12, 5, 22, 40, tzinfo=ZoneInfo("Europe/Stockholm")).astimezone(UTC)
LATER = NIGHT + timedelta(minutes=1)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with fake_gateway() as running:
        yield running


def on_call_settings(tmp_path: Path, gateway: FakeGateway, rules: str = ON_CALL_RULES) -> Settings:
    path = tmp_path / "rules.yaml"
    path.write_text(rules, encoding="utf-8")
    sms = f"46elks+http://u:p@127.0.0.1:{gateway.port}?from=Bostad"
    return settings_under(tmp_path, path, SMARTMAIL_SMS=sms)


@pytest.fixture
def app(tmp_path: Path, gateway: FakeGateway) -> Iterator[App]:
    application = open_app(on_call_settings(tmp_path, gateway), transport=MemoryTransport())
    yield application
    application.engine.dispose()


def urgent(app: App, sender: str, now: datetime) -> int:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "felanmalan@bostad.example", "Stopp"
    msg.set_content("Stopp i avloppet, vatten på golvet")
    outcome = app.pipeline.process(msg.as_bytes(), Envelope("smtp", sender, ()), now)
    assert outcome.case_number is not None
    return outcome.case_number


def rows(app: App) -> list[SmsOutbox]:
    with transaction(app.engine) as session:
        return list(session.exec(select(SmsOutbox).order_by(SmsOutbox.id)).all())  # type: ignore[arg-type]


def test_a_5xx_is_tried_again_with_backoff(app: App, gateway: FakeGateway) -> None:
    urgent(app, "eva@kund.example", NIGHT)
    gateway.answers.append(503)
    report = app.deliver_sms(LATER)
    assert (report.sent, report.retried) == (0, 1)
    [row] = rows(app)
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "queued",
        1,
        LATER + timedelta(minutes=1),
    )
    assert app.deliver_sms(LATER + timedelta(seconds=30)).sent == 0  # not yet
    assert app.deliver_sms(LATER + timedelta(minutes=1)).sent == 1
    assert [form["to"] for form in gateway.sent()] == [LISA, LISA]
    assert rows(app)[0].status == "sent"


def test_a_4xx_fails_for_good_and_the_case_says_so(app: App, gateway: FakeGateway) -> None:
    number = urgent(app, "eva@kund.example", NIGHT)
    gateway.answers.append(400)
    assert app.deliver_sms(LATER).failed == 1
    assert rows(app)[0].status == "failed"
    assert app.deliver_sms(LATER + timedelta(hours=1)).sent == 0  # never again
    with transaction(app.engine) as session:
        failed = session.exec(
            select(Event).where(Event.case_id == number, Event.kind == "sms_failed")
        ).all()
    assert len(failed) == 1
    assert LISA in failed[0].detail
    assert "400" in failed[0].detail


def test_at_most_sms_per_hour_to_one_person(tmp_path: Path, gateway: FakeGateway) -> None:
    rules = ON_CALL_RULES.replace("  overrides:", "  sms_per_hour: 2\n  overrides:")
    app = open_app(on_call_settings(tmp_path, gateway, rules), transport=MemoryTransport())
    try:
        for minutes in (0, 10, 20):
            now = NIGHT + timedelta(minutes=minutes)
            urgent(app, f"kund{minutes}@kund.example", now)
            app.deliver_sms(now + timedelta(minutes=1))
        assert len(gateway.requests) == 2
        assert [row.status for row in rows(app)] == ["sent", "sent", "queued"]
        assert rows(app)[2].next_attempt_at == NIGHT + timedelta(minutes=1, hours=1)
        app.deliver_sms(NIGHT + timedelta(minutes=61))
        assert len(gateway.requests) == 3
    finally:
        app.engine.dispose()


def queue_many(app: App, numbers: int, each: int) -> None:
    with transaction(app.engine) as session:
        for n in range(numbers):
            for i in range(each):
                session.add(
                    SmsOutbox(
                        to_email=f"p{n}@bostad.example",
                        to_number=f"+4670000{n:04d}",
                        text=f"sms {n}.{i}",
                        next_attempt_at=NIGHT,
                        created_at=NIGHT,
                    )
                )


def test_exactly_once_under_concurrent_senders_and_restarts(
    tmp_path: Path, gateway: FakeGateway
) -> None:
    settings = on_call_settings(tmp_path, gateway)
    apps = [open_app(settings, transport=MemoryTransport()) for _ in range(4)]
    try:
        queue_many(apps[0], numbers=6, each=2)
        start = threading.Barrier(len(apps))

        def send(app: App) -> None:
            start.wait()
            for _ in range(3):
                app.deliver_sms(LATER)

        threads = [threading.Thread(target=send, args=(app,)) for app in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent_to = sorted(form["to"] for form in gateway.sent())
        assert sent_to == [f"+4670000{n:04d}" for n in range(6)]  # one SMS per person
        assert {row.status for row in rows(apps[0])} == {"sent"}
    finally:
        for app in apps:
            app.engine.dispose()
    restarted = open_app(settings, transport=MemoryTransport())
    try:
        assert restarted.deliver_sms(LATER + timedelta(hours=2)).sent == 0
    finally:
        restarted.engine.dispose()
    assert len(gateway.requests) == 6
