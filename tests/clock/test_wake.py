"""The clock reads only the cases whose wake time has come, and keeps that time right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from smartmail.app import App
from smartmail.clock import wake
from smartmail.clock.scheduler import sweep
from smartmail.desk import cases
from smartmail.store.db import transaction
from smartmail.store.models import LOOK_AGAIN, Case
from tests.clock.test_scheduler import case, report, sent, sweep_at

MONDAY_9 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def test_a_case_sleeps_until_its_reminder_and_then_until_its_escalation(app: App) -> None:
    number = report(app, "Stopp i avloppet", "Det är stopp.", MONDAY_9)  # akut: due in 24 h
    assert case(app, number).next_wake_at == LOOK_AGAIN  # new: the next sweep works it out
    due = case(app, number).due_at
    assert due == MONDAY_9 + timedelta(hours=24)
    assert sweep_at(app, MONDAY_9 + timedelta(minutes=1)).reminders == 0
    assert case(app, number).next_wake_at == due - timedelta(hours=4)  # remind_before 4h
    assert sweep_at(app, due - timedelta(hours=3)).reminders == 1
    assert case(app, number).next_wake_at == due  # escalation after 0h
    assert sweep_at(app, due + timedelta(minutes=1)).escalations == 1
    assert case(app, number).next_wake_at is None  # nothing ahead: no sweep reads it
    assert sweep_at(app, due + timedelta(days=3)).escalations == 0
    assert len(sent(app, "escalation")) == 1


def test_a_new_priority_or_status_wakes_the_case_again(app: App, rules_path: Path) -> None:
    number = report(app, "Trasig dörr", "Dörren.", MONDAY_9)
    sweep_at(app, MONDAY_9 + timedelta(minutes=1))
    with transaction(app.engine) as session:
        found = session.get(Case, number)
        assert found is not None
        other = "normal" if found.priority == "akut" else "akut"
        cases.set_priority(session, found, other, app.rules(), "kalle@bostad.example", MONDAY_9)
    assert case(app, number).next_wake_at == LOOK_AGAIN
    sweep_at(app, MONDAY_9 + timedelta(minutes=2))
    with transaction(app.engine) as session:
        found = session.get(Case, number)
        assert found is not None
        assert found.next_wake_at not in (None, LOOK_AGAIN)
        cases.set_status(session, found, "resolved", "kalle@bostad.example", MONDAY_9)
    assert case(app, number).next_wake_at == LOOK_AGAIN
    sweep_at(app, MONDAY_9 + timedelta(minutes=3))
    assert case(app, number).next_wake_at is None  # resolved: no reminders


def test_new_rules_wake_every_open_case_again(app: App, rules_path: Path) -> None:
    number = report(app, "Stopp i avloppet", "Det är stopp.", MONDAY_9)
    due = case(app, number).due_at
    assert due is not None
    sweep_at(app, MONDAY_9 + timedelta(minutes=1))
    assert case(app, number).next_wake_at == due - timedelta(hours=4)
    text = rules_path.read_text(encoding="utf-8")
    rules_path.write_text(text.replace("remind_before: 4h", "remind_before: 20h", 1))
    app.rules.reload(force=True)
    assert sweep_at(app, MONDAY_9 + timedelta(hours=5)).reminders == 1  # 19 h before due
    assert case(app, number).next_wake_at == due


def test_the_steps_and_the_next_wake_of_a_deadline(app: App) -> None:
    rules = app.rules()
    priority = rules.priority("akut")
    due = MONDAY_9
    found = wake.steps(rules, priority, 7, due)
    assert [s.template for s in found] == ["reminder", "escalation", "escalation"][: len(found)]
    reminder = found[0]
    assert reminder.key == f"remind:7:{due.isoformat(timespec='minutes')}"
    assert wake.due_now(found, due - timedelta(hours=5)) == []
    assert wake.due_now(found, due - timedelta(hours=1)) == [reminder]
    assert wake.next_wake(found, due - timedelta(hours=5)) == reminder.at
    assert reminder not in wake.due_now(found, due + timedelta(minutes=1))  # too late for it
    assert wake.fingerprint(rules) == wake.fingerprint(app.rules())


def test_the_clock_pauses_before_each_of_its_transactions(app: App) -> None:
    """The daemon's pause waits while mail waits for the writer: it must come between the
    clock's writes, before each, so a burst of mail is never behind a long sweep."""
    numbers = [report(app, f"Stopp {i}", "Det är stopp.", MONDAY_9) for i in range(25)]
    due = case(app, numbers[0]).due_at
    assert due is not None
    written: list[int] = []  # escalations stored when each pause came

    def pause() -> None:
        written.append(len(sent(app, "escalation")))

    with time_machine.travel(due + timedelta(minutes=1), tick=False):
        done = sweep(app, due + timedelta(minutes=1), pause)
    assert done.escalations == 25
    # 10 notices a commit (wake.NOTICES_PER_COMMIT): a pause before each of the three, then
    # between the sweep's other steps
    assert written[:3] == [0, 10, 20]
    assert set(written[3:]) == {25}
