"""The clock: reminders before deadlines, escalations after, auto-close, digests, weekly report.

`sweep(app, now)` is one pass as of `now`: the daemon runs it every minute from APScheduler,
`smartmail sweep --now ISO` runs it once (cron, tests). Each scheduled mail claims a unique
Notice key in the same transaction as its outbox row, so it goes out once per case and step,
across restarts and when two sweeps run at the same moment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from smartmail.app import App
from smartmail.clock import reports, retention
from smartmail.desk import cases, notify, sla
from smartmail.desk.queries import mine, new_cases
from smartmail.mail.compose import Identity, queue
from smartmail.mail.phrases import Phrase
from smartmail.rules.model import Rules
from smartmail.store.db import transaction
from smartmail.store.models import OPEN_STATUSES, Case, Notice

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    reminders: int = 0
    escalations: int = 0
    closed: int = 0
    digests: int = 0
    reports: int = 0
    erased: int = 0  # records past their retention (see clock/retention.py)

    def __str__(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in vars(self).items())


class AlreadyDone(Exception):
    """Another sweep (or an earlier one) sent this notice."""


@contextmanager
def once(app: App, key: str, case_id: int | None = None) -> Iterator[Session]:
    """A transaction that commits only if nobody claimed `key` before."""
    try:
        with transaction(app.engine) as session:
            if session.exec(select(Notice.id).where(Notice.key == key)).first() is not None:
                raise AlreadyDone(key)
            session.add(Notice(key=key, case_id=case_id))
            session.flush()  # the unique key is claimed here; a racing sweep fails here
            yield session
    except IntegrityError as exc:
        raise AlreadyDone(key) from exc


def sweep(app: App, now: datetime) -> SweepReport:
    report = SweepReport()
    rules = app.rules()
    with transaction(app.engine) as session:
        open_ids = session.exec(
            select(Case.id).where(
                col(Case.status).in_(OPEN_STATUSES),
                Case.status != "feedback",  # the clock stands still while we wait on them
                col(Case.due_at).is_not(None),
            )
        ).all()
    for case_id in open_ids:
        assert case_id is not None
        _deadlines(app, rules, case_id, now, report)
    _auto_close(app, rules, now, report)
    if _working_morning(rules, now):
        _digests(app, rules, now, report)
        # Once a week, in the first sweep in business hours of the week: Monday morning
        # unless it is a holiday, later when the daemon was down (or just installed).
        _weekly_report(app, rules, now, report)
    erased = retention.once_a_day(app, now)
    report.erased = erased.total if erased is not None else 0
    return report


# -- reminders and escalations --------------------------------------------------------------


def _deadlines(app: App, rules: Rules, case_id: int, now: datetime, report: SweepReport) -> None:
    with transaction(app.engine) as session:
        case = session.get(Case, case_id)
        if case is None or case.due_at is None:
            return
        if case.priority not in {p.name for p in rules.priorities}:
            log.warning("case %s has priority %r, which the rules lack", case_id, case.priority)
            return
        priority = rules.priority(case.priority)
        due, owners = case.due_at, _owners(rules, case)
    stamp = due.isoformat(timespec="minutes")
    if priority.remind_before is not None and now < due:
        remind_at = sla.subtract_duration(
            due, priority.remind_before, priority.clock, rules.calendar
        )
        key = f"remind:{case_id}:{stamp}"
        if now >= remind_at and _notify_once(app, rules, key, case_id, owners, "reminder", now):
            report.reminders += 1
    for step_no, step in enumerate(priority.escalate):
        at = sla.add_duration(due, step.after, priority.clock, rules.calendar)
        key = f"escalate:{case_id}:{step_no}:{stamp}"
        people = _people(rules, step.to)
        if now >= at and _notify_once(app, rules, key, case_id, people, "escalation", now):
            report.escalations += 1


def _notify_once(
    app: App,
    rules: Rules,
    key: str,
    case_id: int,
    people: list[str],
    template: str,
    now: datetime,
) -> bool:
    """Mail `people` about the case unless `key` was claimed; the case records it."""
    try:
        with once(app, key, case_id) as session:
            case = session.get(Case, case_id)
            assert case is not None
            for person in people:
                notify.deadline_notice(_context(app, rules), session, case, person, template, now)
            cases.record_event(session, case, template, cases.SYSTEM, now, to=people)
    except AlreadyDone:
        return False
    return True


def _owners(rules: Rules, case: Case) -> list[str]:
    """Who answers for a case: its owner, else its team's lead or members, else managers."""
    if case.assignee:
        return [case.assignee]
    if case.team:
        return _people(rules, case.team)
    return [m.email for m in rules.managers()]


def _people(rules: Rules, recipient: str) -> list[str]:
    team = rules.teams.get(recipient)
    if team is None:
        return [recipient]
    if team.lead:
        return [team.lead]
    return list(team.members) or [m.email for m in rules.managers()]


def _context(app: App, rules: Rules) -> notify.Context:
    return app.pipeline.notify_context(rules)


# -- auto-close -----------------------------------------------------------------------------


def _auto_close(app: App, rules: Rules, now: datetime, report: SweepReport) -> None:
    cutoff = now - rules.auto_close_after
    with transaction(app.engine) as session:
        due = session.exec(
            select(Case.id, Case.resolved_at).where(
                Case.status == "resolved", col(Case.resolved_at) <= cutoff
            )
        ).all()
    for case_id, resolved_at in due:
        assert case_id is not None
        assert resolved_at is not None
        # Keyed by the resolution: a case resolved again later closes again later.
        key = f"autoclose:{case_id}:{resolved_at.isoformat(timespec='seconds')}"
        try:
            with once(app, key, case_id) as session:
                case = session.get(Case, case_id)
                if case is None or case.status != "resolved" or case.resolved_at != resolved_at:
                    continue  # answered or changed meanwhile
                cases.set_status(session, case, "closed", cases.SYSTEM, now, None, rules)
                notify.auto_closed(_context(app, rules), session, case, now)
                report.closed += 1
        except AlreadyDone:
            continue


# -- digests and the weekly report ----------------------------------------------------------


def _working_morning(rules: Rules, now: datetime) -> bool:
    """Business hours of a working day: when digests and the report go out (a daemon that
    was down all morning sends them late, never in the evening)."""
    calendar = rules.calendar
    local = now.astimezone(calendar.timezone)
    spans = calendar.business_hours.get(local.weekday(), ())
    if not spans or calendar.is_holiday(local.date()):
        return False
    return spans[0][0] <= local.time() < spans[-1][1]


def _digests(app: App, rules: Rules, now: datetime, report: SweepReport) -> None:
    day = now.astimezone(rules.calendar.timezone).date().isoformat()
    tz = rules.calendar.timezone
    for person in rules.people:
        if person.role not in ("staff", "manager"):
            continue
        with transaction(app.engine) as session:
            lines = mine(session, person.email, person.role, now, tz)
        if lines and _digest_once(
            app, rules, f"digest:{person.email}:{day}", person.email, "digest_mine", lines, now
        ):
            report.digests += 1
    for lead in _leads(rules):
        with transaction(app.engine) as session:
            lines = new_cases(session, now, tz)
        if lines and _digest_once(
            app, rules, f"digest-new:{lead}:{day}", lead, "digest_new", lines, now
        ):
            report.digests += 1


def _leads(rules: Rules) -> list[str]:
    leads = [team.lead for team in rules.teams.values() if team.lead]
    return sorted(set(leads)) or [m.email for m in rules.managers()]


def _digest_once(
    app: App, rules: Rules, key: str, to: str, template: str, lines: list[Phrase], now: datetime
) -> bool:
    try:
        with once(app, key) as session:
            notify.digest(_context(app, rules), session, to, template, lines, now)
    except AlreadyDone:
        return False
    return True


def _weekly_report(app: App, rules: Rules, now: datetime, report: SweepReport) -> None:
    """Once a week to each manager, each in a mail (and an outbox row) of their own."""
    week = now.astimezone(rules.calendar.timezone).strftime("%G-W%V")
    for manager in rules.managers():
        try:
            with once(app, f"weekly:{week}:{manager.email}") as session:
                figures = reports.compute(session, now - timedelta(days=7), now, now)
                msg = reports.weekly_report_mail(
                    figures,
                    templates=app.pipeline.templates,
                    language=manager.language or rules.language,
                    timezone=rules.calendar.timezone,
                    identity=Identity(app.pipeline.address(), rules.name),
                    to=[manager.email],
                    now=now,
                )
                secret = app.settings.secret
                queue(session, msg, case=None, now=now, template="weekly_report", secret=secret)
        except AlreadyDone:
            continue
        report.reports += 1
