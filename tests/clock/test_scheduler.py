"""The clock with time-machine: reminders, escalations, pauses, auto-close, digests."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlmodel import select

from smartmail.app import App
from smartmail.clock import chart
from smartmail.clock.scheduler import SweepReport, sweep
from smartmail.desk import cases
from smartmail.outbound.sender import deliver_due
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Case, Message, Notice, Outbox
from tests.conftest import MemoryTransport

STOCKHOLM = ZoneInfo("Europe/Stockholm")
EVA = "eva@kund.example"
DESK = "felanmalan@bostad.example"


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=STOCKHOLM).astimezone(UTC)  # type: ignore[misc]


def report(app: App, subject: str, body: str, at: datetime, **headers: str) -> int:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = EVA, DESK, subject
    msg["Message-ID"] = make_msgid(domain="kund.example")
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(body)
    with time_machine.travel(at, tick=False):
        outcome = app.pipeline.process(msg.as_bytes(), Envelope("smtp", EVA, (DESK,)), at)
    assert outcome.case_number is not None
    return outcome.case_number


def sweep_at(app: App, at: datetime) -> SweepReport:
    with time_machine.travel(at, tick=False):
        return sweep(app, at)


def sent(app: App, template: str, to: str | None = None) -> list[Message]:
    with transaction(app.engine) as session:
        query = select(Message).where(Message.template == template)
        if to:
            query = query.where(Message.to_addrs == to)
        return list(session.exec(query).all())


def case(app: App, number: int) -> Case:
    with transaction(app.engine) as session:
        found = session.get(Case, number)
        assert found is not None
        return found


def test_a_reminder_comes_at_the_right_local_time_over_a_weekend_and_a_holiday(app: App) -> None:
    # Tuesday 15:00 before Trettondedag jul (Wednesday 2027-01-06): 3 working days on
    # 07-16 hours skip the holiday and the weekend: due Monday 2027-01-11 15:00.
    number = report(
        app, "Fönstret går inte att stänga", "Fönstret i sovrummet.", local(2027, 1, 5, 15)
    )
    assert case(app, number).due_at == local(2027, 1, 11, 15)
    assert sweep_at(app, local(2027, 1, 11, 10, 59)).reminders == 0
    assert sweep_at(app, local(2027, 1, 11, 11, 0)).reminders == 1  # 4 business hours before
    assert sweep_at(app, local(2027, 1, 11, 11, 30)).reminders == 0
    (reminder,) = sent(app, "reminder")
    assert reminder.to_addrs == case(app, number).assignee == "anna@bostad.example"
    assert "måndag 11 januari 2027, 15:00" in reminder.subject


def test_one_reminder_and_one_escalation_per_step_even_when_sweeps_race(app: App) -> None:
    number = report(app, "Stopp i avloppet", "Det är stopp.", datetime(2026, 11, 23, 9, tzinfo=UTC))
    due = case(app, number).due_at
    assert due == datetime(2026, 11, 24, 9, tzinfo=UTC)

    def race(at: datetime) -> None:
        threads = [threading.Thread(target=sweep, args=(app, at)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    with time_machine.travel(due - timedelta(hours=2), tick=False):
        race(due - timedelta(hours=2))
        sweep(app, due - timedelta(hours=1))
    with time_machine.travel(due + timedelta(minutes=5), tick=False):
        race(due + timedelta(minutes=5))
        sweep(app, due + timedelta(hours=1))
    assert len(sent(app, "reminder")) == 1
    escalations = sent(app, "escalation")
    assert [m.to_addrs for m in escalations] == ["anna@bostad.example"]
    assert "5 minuter" in escalations[0].subject  # how late
    with transaction(app.engine) as session:
        keys = session.exec(select(Notice.key).where(Notice.case_id == number)).all()
    assert sorted(k.split(":")[0] for k in keys) == ["escalate", "remind"]


def test_a_case_resolved_in_time_gets_nothing(app: App) -> None:
    number = report(app, "Stopp i avloppet", "Stopp.", datetime(2026, 11, 23, 9, tzinfo=UTC))
    with transaction(app.engine) as session:
        found = session.get(Case, number)
        assert found is not None
        cases.set_status(session, found, "resolved", "kalle@bostad.example", found.created_at)
    outcome = sweep_at(app, datetime(2026, 11, 25, 9, tzinfo=UTC))
    assert (outcome.reminders, outcome.escalations) == (0, 0)


def test_the_clock_stands_still_while_waiting_on_the_customer(app: App) -> None:
    number = report(app, "Stopp i avloppet", "Stopp.", datetime(2026, 11, 23, 9, tzinfo=UTC))
    wait_on_customer(app, number, datetime(2026, 11, 23, 10, tzinfo=UTC), None)
    # past the original deadline (24th 09:00) while waiting: nothing fires
    assert sweep_at(app, datetime(2026, 11, 24, 11, tzinfo=UTC)).escalations == 0
    ack = next(m for m in sent(app, "ack"))
    report_reply = report(
        app, ack.subject, "Här är bilden.", datetime(2026, 11, 24, 12, tzinfo=UTC)
    )
    assert report_reply == number
    resumed = case(app, number)
    assert resumed.status == "assigned"
    assert resumed.due_at == datetime(2026, 11, 25, 11, tzinfo=UTC)  # waited 26 h
    assert sweep_at(app, datetime(2026, 11, 25, 7, tzinfo=UTC)).reminders == 1


def test_resolved_cases_close_after_a_week_unless_the_customer_answers(app: App) -> None:
    quiet = report(app, "Trasig dörr", "Dörren.", datetime(2026, 11, 2, 9, tzinfo=UTC))
    answered = report(app, "Trasigt fönster", "Fönstret.", datetime(2026, 11, 2, 9, tzinfo=UTC))
    resolved_at = datetime(2026, 11, 3, 9, tzinfo=UTC)
    with transaction(app.engine) as session:
        for number in (quiet, answered):
            found = session.get(Case, number)
            assert found is not None
            cases.set_status(session, found, "resolved", "anna@bostad.example", resolved_at)
    ack = next(m for m in sent(app, "ack") if f"#{answered}-" in m.subject)
    report(app, ack.subject, "Det läcker fortfarande.", datetime(2026, 11, 6, 9, tzinfo=UTC))
    assert sweep_at(app, resolved_at + timedelta(days=6)).closed == 0
    assert sweep_at(app, resolved_at + timedelta(days=7)).closed == 1
    assert case(app, quiet).status == "closed"
    assert (case(app, answered).status, case(app, answered).reopen_count) == ("assigned", 1)
    assert len(sent(app, "auto_closed", EVA)) == 1


def test_digests_go_out_each_working_morning_to_those_with_something_to_do(app: App) -> None:
    report(app, "Stopp i avloppet", "Stopp.", local(2026, 11, 20, 10))  # Kalle's
    monday = local(2026, 11, 23, 7, 5)
    assert sweep_at(app, local(2026, 11, 23, 6, 55)).digests == 0  # before opening
    assert sweep_at(app, monday).digests == 1
    assert sweep_at(app, monday + timedelta(hours=2)).digests == 0  # once a day
    (digest,) = sent(app, "digest_mine")
    assert digest.to_addrs == "kalle@bostad.example"
    assert "Stopp i avloppet" in digest.text
    assert sent(app, "digest_mine", "lisa@bostad.example") == []
    assert sweep_at(app, local(2026, 11, 28, 9)).digests == 0  # Saturday


def test_the_weekly_report_goes_to_the_managers_once_on_monday_morning(app: App) -> None:
    report(app, "Stopp i avloppet", "Stopp.", local(2026, 11, 18, 10))
    assert sweep_at(app, local(2026, 11, 22, 9)).reports == 0  # Sunday
    assert sweep_at(app, local(2026, 11, 23, 7, 1)).reports == 1  # Monday at opening
    assert sweep_at(app, local(2026, 11, 23, 12)).reports == 0
    (weekly,) = sent(app, "weekly_report")
    assert weekly.to_addrs == "anna@bostad.example"
    transport = app.transport
    assert isinstance(transport, MemoryTransport)
    deliver_due(app.engine, transport, local(2026, 11, 23, 12))
    (body,) = [b for _from, _to, b in transport.sent if b"image/png" in b]
    assert b"Content-ID" in body
    assert b"multipart/alternative" in body


def test_a_chart_that_cannot_be_drawn_leaves_the_report_without_it(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chart, "CHILD", [sys.executable, "-c", "import os; os._exit(9)"])
    report(app, "Stopp i avloppet", "Stopp.", local(2026, 11, 18, 10))
    assert sweep_at(app, local(2026, 11, 23, 7, 1)).reports == 1
    (weekly,) = sent(app, "weekly_report")
    transport = app.transport
    assert isinstance(transport, MemoryTransport)
    deliver_due(app.engine, transport, local(2026, 11, 23, 12))
    (body,) = [b for _from, _to, b in transport.sent if weekly.message_id.encode() in b]
    assert b"image/png" not in body
    assert b"text/html" in body


# The sweep as its own command in a process of its own, on a Monday morning with a case.
SWEEP_WITHOUT_MATPLOTLIB = """
import sys
from smartmail.cli import main
code = main(["sweep", "--now", sys.argv[1]])
assert code == 0, code
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "matplotlib")
assert not loaded, loaded[:5]
"""


def test_the_sweeping_process_never_imports_matplotlib(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    report(app, "Stopp i avloppet", "Stopp.", local(2026, 11, 18, 10))
    settings = app.settings
    monkeypatch.setenv("SMARTMAIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SMARTMAIL_RULES", str(app.rules.path))
    monkeypatch.setenv("SMARTMAIL_SECRET", "test-secret")  # as settings_under
    monkeypatch.delenv("SMARTMAIL_DATABASE_URL", raising=False)
    monday = local(2026, 11, 23, 7, 1).isoformat()
    done = subprocess.run(
        [sys.executable, "-c", SWEEP_WITHOUT_MATPLOTLIB, monday],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "reports 1" in done.stdout, done.stdout + done.stderr
    with transaction(app.engine) as session:  # the command tried its relay: read the row
        bodies = [row.body for row in session.exec(select(Outbox)).all()]
    (body,) = [b for b in bodies if b"image/png" in b]
    assert b"Content-ID" in body


def wait_on_customer(app: App, number: int, since: datetime, until: datetime | None) -> Case:
    """The case waits in feedback from `since` (until the customer answers at `until`)."""
    rules = app.rules()
    with transaction(app.engine) as session:
        found = session.get(Case, number)
        assert found is not None
        cases.set_status(session, found, "feedback", "kalle@bostad.example", since, None, rules)
        if until is not None:
            cases.set_status(session, found, "assigned", EVA, until, None, rules)
        return found


def reprioritise(app: App, number: int, priority: str, at: datetime) -> Case:
    with transaction(app.engine) as session:
        found = session.get(Case, number)
        assert found is not None
        cases.set_priority(session, found, priority, app.rules(), "kalle@bostad.example", at)
        return found


def test_a_priority_change_keeps_the_time_waited_on_the_customer(app: App) -> None:
    number = report(app, "Stopp i avloppet", "Stopp.", datetime(2026, 11, 23, 9, tzinfo=UTC))
    waited = wait_on_customer(
        app, number, datetime(2026, 11, 23, 10, tzinfo=UTC), datetime(2026, 11, 24, 10, tzinfo=UTC)
    )
    assert waited.due_at == datetime(2026, 11, 25, 9, tzinfo=UTC)  # waited 24 h
    changed = reprioritise(app, number, "akut", datetime(2026, 11, 24, 11, tzinfo=UTC))
    assert changed.due_at == datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_a_priority_change_to_the_other_clock_counts_the_wait_on_that_clock(app: App) -> None:
    # Monday 2026-11-23 09:00 local, akut (always): waits in feedback Mon 10:00 - Tue 10:00
    # local: 24 h on the wall, 9 business hours (Mon 10-16, Tue 07-10).
    number = report(app, "Stopp i avloppet", "Stopp.", local(2026, 11, 23, 9))
    wait_on_customer(app, number, local(2026, 11, 23, 10), local(2026, 11, 24, 10))
    changed = reprioritise(app, number, "normal", local(2026, 11, 24, 11))
    # 3 working days from Mon 09:00 is Thu 09:00; plus 9 business hours: Fri 09:00
    assert changed.due_at == local(2026, 11, 27, 9)
