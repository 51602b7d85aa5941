"""On call in-process: a new urgent case outside office hours is paged, taken, escalated;
quiet when it should be (office hours, customers, automatic mail), a burst as one SMS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from smartmail.app import App, open_app
from smartmail.clock.scheduler import sweep
from smartmail.mail.tokens import reply_address, tokenized_subject
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.store.db import transaction
from smartmail.store.models import Case, Event, Message, SmsOutbox
from tests.conftest import MemoryTransport, settings_under
from tests.rules.on_call_rules import ANNA, KALLE, LISA, ON_CALL_RULES

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SATURDAY_NIGHT = datetime(2026, 12, 5, 22, 40, tzinfo=STOCKHOLM).astimezone(UTC)  # Lisa's week
FRIDAY_AFTERNOON = datetime(2026, 12, 4, 14, 0, tzinfo=STOCKHOLM).astimezone(UTC)
DESK = "felanmalan@bostad.example"
EVA = "eva@kund.example"


class Gateway:
    """What the SMS provider was handed: (number, text), in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, number: str, text: str) -> None:
        self.sent.append((number, text))


@pytest.fixture
def oncall_app(tmp_path: Path) -> Iterator[App]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(ON_CALL_RULES, encoding="utf-8")
    app = open_app(settings_under(tmp_path, rules), transport=MemoryTransport())
    app.sms = Gateway()
    yield app
    app.engine.dispose()


def sms(app: App) -> list[tuple[str, str]]:
    assert isinstance(app.sms, Gateway)
    return app.sms.sent


def mail(
    app: App,
    sender: str,
    body: str,
    now: datetime,
    number: int = 0,
    subject: str = "Stopp i avloppet",
    **headers: str,
) -> Outcome:
    msg = EmailMessage()
    secret = app.settings.secret
    msg["From"] = sender
    msg["To"] = reply_address(DESK, number, sender, secret) if number else DESK
    msg["Subject"] = tokenized_subject(subject, number, secret) if number else subject
    msg["Message-ID"] = make_msgid(domain="example.org")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return app.pipeline.process(msg.as_bytes(), Envelope("smtp", sender, (str(msg["To"]),)), now)


def the_case(app: App, number: int) -> Case:
    with transaction(app.engine) as session:
        found = session.get(Case, number)
        assert found is not None
        return found


def events(app: App, number: int, kind: str) -> list[Event]:
    with transaction(app.engine) as session:
        return list(
            session.exec(select(Event).where(Event.case_id == number, Event.kind == kind)).all()
        )


def mail_to(app: App, address: str) -> list[Message]:
    with transaction(app.engine) as session:
        return list(session.exec(select(Message).where(Message.to_addrs == address)).all())


def test_an_urgent_case_on_saturday_night_pages_the_person_on_call(oncall_app: App) -> None:
    outcome = mail(oncall_app, EVA, "Det läcker vatten från avloppet i köket!", SATURDAY_NIGHT)
    case = the_case(oncall_app, outcome.case_number or 0)
    # Lisa is on call this week; the team would have given it to Kalle, the least loaded.
    assert case.assignee == "lisa@bostad.example"
    assert [e.detail for e in events(oncall_app, case.number, "on_call")] == [
        '{"to": "lisa@bostad.example"}'
    ]
    assert mail_to(oncall_app, "lisa@bostad.example")  # the usual mail, as owner
    oncall_app.deliver_sms(SATURDAY_NIGHT)
    assert sms(oncall_app) == []  # held a moment: a burst goes as one
    oncall_app.deliver_sms(SATURDAY_NIGHT + timedelta(seconds=30))
    [(number, text)] = sms(oncall_app)
    assert number == LISA
    assert text.startswith(f"Ärende {case.number} (akut): Skador i lägenheten / Stopp i avlopp.")
    assert "eva@kund.example: Det läcker vatten från avloppet i köket!" in text
    assert text.endswith(f"Svara OK {case.number} för att ta det.")
    assert len(text) <= 160


def test_no_sms_in_office_hours_for_the_normal_priority_or_automatic_mail(
    oncall_app: App,
) -> None:
    in_hours = mail(oncall_app, EVA, "Stopp i avloppet", FRIDAY_AFTERNOON)
    normal = mail(oncall_app, EVA, "Dörren gnisslar", SATURDAY_NIGHT, subject="Dörr")
    machine = mail(
        oncall_app,
        "larm@fastighet.example",
        "Larm: stopp i avlopp, pump 3",
        SATURDAY_NIGHT,
        Auto_Submitted="auto-generated",
    )
    oncall_app.deliver_sms(SATURDAY_NIGHT + timedelta(hours=1))
    assert sms(oncall_app) == []
    for outcome in (in_hours, normal, machine):
        assert outcome.case_number is not None
        assert events(oncall_app, outcome.case_number, "on_call") == []
    assert the_case(oncall_app, in_hours.case_number or 0).assignee == "kalle@bostad.example"


def test_no_sms_ever_goes_to_a_customer_or_contractor(oncall_app: App) -> None:
    mail(oncall_app, EVA, "Stopp i avloppet", SATURDAY_NIGHT)
    mail(oncall_app, "jobb@rorab.example", "Stopp i avloppet hos oss", SATURDAY_NIGHT)
    oncall_app.deliver_sms(SATURDAY_NIGHT + timedelta(minutes=1))
    with transaction(oncall_app.engine) as session:
        rows = session.exec(select(SmsOutbox.to_email)).all()
    assert set(rows) == {"lisa@bostad.example"}
    assert {number for number, _ in sms(oncall_app)} == {LISA}


def test_a_burst_of_urgent_cases_becomes_one_sms(oncall_app: App) -> None:
    first = mail(oncall_app, EVA, "Stopp i avloppet", SATURDAY_NIGHT)
    later = SATURDAY_NIGHT + timedelta(seconds=20)
    second = mail(oncall_app, "olle@kund.example", "Stopp i avloppet här med", later)
    oncall_app.deliver_sms(SATURDAY_NIGHT + timedelta(minutes=1))
    [(number, text)] = sms(oncall_app)
    assert number == LISA
    assert text.startswith("2 akuta ärenden: ")
    assert f"{first.case_number} Skador" in text
    assert f"{second.case_number} Skador" in text
    # Another within minutes waits for the gap after the last SMS, then goes on its own.
    third = mail(oncall_app, "siv@kund.example", "Stopp!", SATURDAY_NIGHT + timedelta(minutes=2))
    oncall_app.deliver_sms(SATURDAY_NIGHT + timedelta(minutes=3))
    assert len(sms(oncall_app)) == 1
    oncall_app.deliver_sms(SATURDAY_NIGHT + timedelta(minutes=6))
    assert len(sms(oncall_app)) == 2
    assert sms(oncall_app)[1][1].startswith(f"Ärende {third.case_number} ")


def test_taking_by_mail_stops_the_escalation(oncall_app: App) -> None:
    number = mail(oncall_app, EVA, "Stopp i avloppet", SATURDAY_NIGHT).case_number or 0
    took = mail(oncall_app, "lisa@bostad.example", "#ta\nJag åker dit.", SATURDAY_NIGHT, number)
    assert took.kind != "quarantined"
    assert [e.actor for e in events(oncall_app, number, "taken")] == ["lisa@bostad.example"]
    sweep(oncall_app, SATURDAY_NIGHT + timedelta(hours=1))
    assert events(oncall_app, number, "on_call_escalated") == []


def test_nobody_takes_it_the_next_on_call_then_the_managers(oncall_app: App) -> None:
    number = mail(oncall_app, EVA, "Stopp i avloppet", SATURDAY_NIGHT).case_number or 0
    oncall_app.deliver_sms(SATURDAY_NIGHT + timedelta(minutes=1))
    sweep(oncall_app, SATURDAY_NIGHT + timedelta(minutes=14))
    assert events(oncall_app, number, "on_call_escalated") == []
    sweep(oncall_app, SATURDAY_NIGHT + timedelta(minutes=15))
    sweep(oncall_app, SATURDAY_NIGHT + timedelta(minutes=15))  # again: nothing new
    steps = events(oncall_app, number, "on_call_escalated")
    assert [s.detail for s in steps] == ['{"step": 1, "to": ["kalle@bostad.example"]}']
    oncall_app.deliver_sms(SATURDAY_NIGHT + timedelta(minutes=16))
    assert sms(oncall_app)[-1][0] == KALLE
    assert sms(oncall_app)[-1][1].startswith(f"Ingen har tagit ärende {number} ")
    sweep(oncall_app, SATURDAY_NIGHT + timedelta(minutes=31))
    steps = events(oncall_app, number, "on_call_escalated")
    assert steps[-1].detail == '{"step": 2, "to": ["anna@bostad.example"]}'
    oncall_app.deliver_sms(SATURDAY_NIGHT + timedelta(minutes=32))
    assert sms(oncall_app)[-1][0] == ANNA
    assert mail_to(oncall_app, "anna@bostad.example")
