"""The monthly basis: which month, to whom, and only on a working morning, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import time_machine

from smartmail.app import App
from smartmail.clock import invoicing
from smartmail.clock.scheduler import sweep
from smartmail.desk import cases
from smartmail.rules.load import load_rules
from smartmail.store.db import transaction
from smartmail.store.models import Case, Message, TimeEntry
from tests.clock.test_scheduler import report, sent
from tests.conftest import TEST_RULES

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=STOCKHOLM).astimezone(UTC)  # type: ignore[misc]


def test_last_month_in_the_rules_time_zone() -> None:
    january = invoicing.month_before(local(2027, 1, 4, 8), STOCKHOLM)
    assert january.label == "2026-12"
    assert (january.since, january.until) == (local(2026, 12, 1), local(2027, 1, 1))
    # 23:30 UTC on 31 March is already April in Stockholm: March's basis
    april = invoicing.month_before(datetime(2027, 3, 31, 23, 30, tzinfo=UTC), STOCKHOLM)
    assert april.label == "2027-03"


def test_managers_and_with_the_key_each_contractor(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(TEST_RULES, encoding="utf-8")
    assert invoicing.recipients(load_rules(path)) == [("anna@bostad.example", None)]
    path.write_text(TEST_RULES + "invoicing: {contractors: true}\n", encoding="utf-8")
    assert invoicing.recipients(load_rules(path)) == [
        ("anna@bostad.example", None),
        ("jobb@rorab.example", "jobb@rorab.example"),
    ]


def log_time(app: App, number: int, at: datetime) -> None:
    with time_machine.travel(at, tick=False), transaction(app.engine) as session:
        case = session.get(Case, number)
        assert case is not None
        entry = TimeEntry(case_id=number, actor="kalle@bostad.example", minutes=90)
        cases.log_work(session, case, entry, "kalle@bostad.example", at)


def bases(app: App) -> list[Message]:
    return sent(app, invoicing.TEMPLATE)


def test_on_the_first_working_morning_of_the_month_once(app: App) -> None:
    number = report(app, "Stopp i avloppet", "Det är stopp.", local(2026, 12, 10, 9))
    log_time(app, number, local(2026, 12, 10, 10))
    # 1 January is a holiday, 2 and 3 January 2027 a weekend: the 4th is the first working day
    for day in (1, 2, 3):
        with time_machine.travel(local(2027, 1, day, 9), tick=False):
            assert sweep(app, local(2027, 1, day, 9)).invoicing == 0
    with time_machine.travel(local(2027, 1, 4, 6), tick=False):  # before business hours
        assert sweep(app, local(2027, 1, 4, 6)).invoicing == 0
    for hour in (8, 9, 15):
        with time_machine.travel(local(2027, 1, 4, hour), tick=False):
            sweep(app, local(2027, 1, 4, hour))
    (mail,) = bases(app)
    assert mail.to_addrs == "anna@bostad.example"
    assert mail.subject == "Fakturaunderlag 2026-12"
    assert "Kalle Karlsson" in mail.text
    assert "1,50" in mail.text
    # February's sweep sends January's basis: none, for nothing was logged then
    with time_machine.travel(local(2027, 2, 1, 9), tick=False):
        assert sweep(app, local(2027, 2, 1, 9) + timedelta(minutes=1)).invoicing == 0
    assert len(bases(app)) == 1
