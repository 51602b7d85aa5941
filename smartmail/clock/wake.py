"""Reminders and escalations by each case's wake time, in work that follows the due cases.

Each case keeps `next_wake_at`: the first moment its reminder or one of its escalation
steps is due. A sweep reads the cases whose moment has come (by an index), sends what is
due, and sets the next moment, or None when nothing is ahead. A change of the deadline,
priority or status sets it to LOOK_AGAIN (store/models.py), and so do new rules: the wake
times depend on the priorities and the calendar, so when their fingerprint changes every
open case is worked out again once.

The due cases are handled in batches, each in one transaction (one commit for many
notices); each notice claims its unique Notice key in a savepoint of its own, so a notice
another sweep sent meanwhile is skipped alone and the rest of the batch stands.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from smartmail.desk import sla
from smartmail.rules.model import Priority, Rules
from smartmail.store import prepared
from smartmail.store.db import insert_row, savepoint, transaction
from smartmail.store.db import reading as read_only
from smartmail.store.models import (
    LOOK_AGAIN,
    OPEN_STATUSES,
    Case,
    ClockState,
    Notice,
    Party,
    utcnow,
)

log = logging.getLogger(__name__)

BATCH = 200  # cases read at a time
NOTICES_PER_COMMIT = 10  # one commit for several notices; mail waits for no more than these
RULES_KEY = "wake-rules"
_CLAIMED = select(Notice.id).where(Notice.key == bindparam("key"))


@dataclass(frozen=True)
class Step:
    """One scheduled mail about a case: when, under which once-only key, which template."""

    at: datetime
    key: str
    template: str  # "reminder" | "escalation"
    to: str  # the step's recipient (a person or a team); "" for the case's owners
    until: datetime | None = None  # a reminder is only sent before the deadline


def steps(rules: Rules, priority: Priority, case_id: int, due: datetime) -> list[Step]:
    """The case's reminder and escalation steps for the deadline `due` (pure)."""
    stamp = due.isoformat(timespec="minutes")
    found = []
    if priority.remind_before is not None:
        at = sla.subtract_duration(due, priority.remind_before, priority.clock, rules.calendar)
        found.append(Step(at, f"remind:{case_id}:{stamp}", "reminder", "", until=due))
    for step_no, step in enumerate(priority.escalate):
        at = sla.add_duration(due, step.after, priority.clock, rules.calendar)
        key = f"escalate:{case_id}:{step_no}:{stamp}"
        found.append(Step(at, key, "escalation", step.to))
    return found


def due_now(found: list[Step], now: datetime) -> list[Step]:
    return [s for s in found if s.at <= now and (s.until is None or now < s.until)]


def next_wake(found: list[Step], now: datetime) -> datetime | None:
    """The first moment after `now` a step falls due; None when none is ahead."""
    ahead = [s.at for s in found if s.at > now and (s.until is None or s.at < s.until)]
    return min(ahead, default=None)


def fingerprint(rules: Rules) -> str:
    """What the wake times are computed from: the priorities and the calendar."""
    cal = rules.calendar
    parts = (
        rules.priorities,
        cal.timezone.key,
        sorted(cal.business_hours.items()),
        cal.holidays,
        cal.holiday_categories,
        sorted(cal.closed_days),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def look_again_if_rules_changed(session: Session, rules: Rules) -> None:
    """New priorities or calendar: every open case's wake time is worked out again."""
    mark = fingerprint(rules)
    state = session.get(ClockState, RULES_KEY)
    if state is not None and state.value == mark:
        return
    session.execute(
        update(Case)
        .where(col(Case.status).in_(OPEN_STATUSES))
        .values(next_wake_at=LOOK_AGAIN)
        .execution_options(synchronize_session=False)
    )
    if state is None:
        session.add(ClockState(key=RULES_KEY, value=mark))
    else:
        state.value = mark


Notify = Callable[[Session, Case, Step], None]
# Called between the clock's transactions: it may wait while mail waits for the writer.
Pause = Callable[[], None]


def no_pause() -> None:
    """The clock's pause outside the daemon: none."""


def wake_due_cases(
    engine: Engine, rules: Rules, now: datetime, notify: Notify, pause: Pause = no_pause
) -> Counter[str]:
    """Send every reminder and escalation due by `now`; how many of each template.
    `pause` is called before each transaction that writes (mail's turn first)."""
    sent: Counter[str] = Counter()
    try:
        with transaction(engine) as session:
            look_again_if_rules_changed(session, rules)
    except IntegrityError:
        pass  # a sweep alongside marked the same new rules first: the cases look again anyway
    while True:
        with read_only(engine) as reading:
            ids = list(
                reading.exec(
                    select(Case.id)
                    .where(col(Case.next_wake_at) <= now)
                    .order_by(col(Case.next_wake_at), col(Case.id))
                    .limit(BATCH)
                ).all()
            )
        pending = [case_id for case_id in ids if case_id is not None]
        while pending:
            pause()
            pending = _wake_some(engine, rules, now, notify, pending, sent)
        if len(ids) < BATCH:
            return sent


def _wake_some(
    engine: Engine,
    rules: Rules,
    now: datetime,
    notify: Notify,
    ids: list[int],
    sent: Counter[str],
) -> list[int]:
    """Wake cases in one transaction until NOTICES_PER_COMMIT notices are written (mail
    waits for the writer's turn meanwhile); the ids not reached yet."""
    with transaction(engine) as session:
        wakes: list[dict[str, Any]] = []
        loaded: list[SQLModel] = []  # held here: the session keeps its objects weakly only
        written = 0
        for case_id in ids:
            if len(wakes) % NOTICES_PER_COMMIT == 0:  # the next few, read at once
                loaded += _load(session, ids[len(wakes) : len(wakes) + NOTICES_PER_COMMIT])
            case = session.get(Case, case_id)  # the loaded one, unless a savepoint failed
            assert case is not None
            done, wake = _wake(session, rules, case, now, notify)
            sent.update(step.template for step in done)
            wakes.append({"id": case_id, "next_wake_at": wake})
            written += len(done)
            if written >= NOTICES_PER_COMMIT:
                break
        session.execute(update(Case), wakes)  # by primary key, no ORM events: the wake only
    return ids[len(wakes) :]


def _load(session: Session, ids: list[int]) -> list[SQLModel]:
    """The cases and their customers into the session, in two queries: a notice names the
    customer, and a case's customer is then found without a query of its own. Only the
    cases this transaction may reach: reading the whole batch for each commit of ten
    notices read it twenty times. The caller holds the objects while it works on them:
    the session would otherwise let them go and read each case again, one by one."""
    cases = session.exec(select(Case).where(col(Case.id).in_(ids))).all()
    customers = {case.customer_id for case in cases if case.customer_id is not None}
    parties = session.exec(select(Party).where(col(Party.id).in_(customers))).all()
    return [*cases, *parties]


def _wake(
    session: Session, rules: Rules, case: Case, now: datetime, notify: Notify
) -> tuple[list[Step], datetime | None]:
    """The case's due steps sent (once each), and its next wake time."""
    assert case.id is not None
    if case.status not in OPEN_STATUSES or case.status == "feedback" or case.due_at is None:
        return [], None  # a status change or a new deadline wakes it again
    if case.priority not in {p.name for p in rules.priorities}:
        log.warning("case %s has priority %r, which the rules lack", case.id, case.priority)
        return [], None  # new rules wake it again
    found = steps(rules, rules.priority(case.priority), case.id, case.due_at)
    done = [step for step in due_now(found, now) if _once(session, case, step, notify)]
    return done, next_wake(found, now)


def _once(session: Session, case: Case, step: Step, notify: Notify) -> bool:
    """Send the step unless its key was claimed (by an earlier or a concurrent sweep)."""
    if prepared.first(session, _CLAIMED, key=step.key) is not None:
        return False
    try:
        with savepoint(session):
            # the unique key is claimed here; a racing sweep fails here
            claim = {"key": step.key, "case_id": case.id, "created_at": utcnow()}
            insert_row(session, Notice, claim)
            notify(session, case, step)
    except IntegrityError:
        return False
    return True
