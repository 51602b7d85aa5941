"""The clock's part in on call: a page nobody took escalates, step by step.

The priority's `escalate` steps count from the page: once `after` has passed and nobody
has taken the case (`#take`, `OK 123`), the first step reaches the next person on the
rotation and every later step the managers, each by SMS (who has a phone) and mail; every
step is an event. A Notice key per case and step makes each happen once, across restarts
and concurrent sweeps.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, func, select

from smartmail.app import App
from smartmail.clock.once import AlreadyDone, once
from smartmail.desk import cases, notify, on_call
from smartmail.rules.model import Rules
from smartmail.rules.on_call import next_on_call
from smartmail.store.db import transaction
from smartmail.store.models import OPEN_STATUSES, Case, Event

# A page older than this is history: its escalation is over, whatever happened.
LOOK_BACK = timedelta(days=1)


def escalate_untaken(app: App, rules: Rules, now: datetime) -> int:
    """Every escalation step that is due for a page nobody took; gives how many went."""
    with transaction(app.engine) as session:
        paged = session.exec(
            select(Event.case_id, func.min(Event.at))
            .where(Event.kind == "on_call", col(Event.at) >= now - LOOK_BACK)
            .group_by(col(Event.case_id))
        ).all()
    done = 0
    for case_id, paged_at in paged:
        done += _steps(app, rules, case_id, paged_at, now)
    return done


def _steps(app: App, rules: Rules, case_id: int, paged_at: datetime, now: datetime) -> int:
    with transaction(app.engine) as session:
        case = session.get(Case, case_id)
        if case is None or case.status not in OPEN_STATUSES:
            return 0
        if case.priority not in {p.name for p in rules.priorities}:
            return 0
        steps = rules.priority(case.priority).escalate
        if on_call.was_taken(session, case, paged_at):
            return 0
    done = 0
    for step_no, step in enumerate(steps):
        if now < paged_at + step.after:
            break
        targets = _targets(rules, step_no, paged_at)
        if targets and _escalate_once(app, rules, case_id, step_no, paged_at, targets, now):
            done += 1
    return done


def _targets(rules: Rules, step_no: int, paged_at: datetime) -> list[str]:
    """The first step: the next on the rotation; every later one: the managers."""
    if step_no == 0:
        following = next_on_call(rules, paged_at)
        return [following] if following else []
    return [manager.email for manager in rules.managers()]


def _escalate_once(
    app: App,
    rules: Rules,
    case_id: int,
    step_no: int,
    paged_at: datetime,
    targets: list[str],
    now: datetime,
) -> bool:
    key = f"oncall:{case_id}:{step_no}:{paged_at.isoformat(timespec='seconds')}"
    context = app.pipeline.notify_context(rules)
    try:
        with once(app, key, case_id) as session:
            case = session.get(Case, case_id)
            assert case is not None
            if on_call.was_taken(session, case, paged_at):
                return False  # taken meanwhile: the key is claimed, nothing goes
            for person in targets:
                on_call.queue_sms(context, session, case, person, "escalation", now)
                notify.deadline_notice(context, session, case, person, "reminder", now)
            cases.note_on_call_escalation(session, case, step_no, targets, now)
    except AlreadyDone:
        return False
    return True
