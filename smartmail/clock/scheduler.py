"""The clock: reminders before deadlines, escalations after, auto-close, digests, weekly report.

`sweep(app, now)` is one pass as of `now`: the daemon runs it every minute from APScheduler,
`smartmail sweep --now ISO` runs it once (cron, tests). Each scheduled mail claims a unique
Notice key in the same transaction as its outbox row, so it goes out once per case and step,
across restarts and when two sweeps run at the same moment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from smartmail.app import App
from smartmail.clock import chart, invoicing, on_call, reports, retention, wake
from smartmail.clock.once import AlreadyDone, once
from smartmail.desk import cases, notify
from smartmail.desk.invoicing import basis_rows
from smartmail.desk.queries import mine, new_cases
from smartmail.mail.compose import Identity, queue
from smartmail.mail.overrides import templates_for
from smartmail.mail.phrases import Phrase
from smartmail.rules.model import Rules
from smartmail.store.db import insert_row, transaction
from smartmail.store.db import reading as read_only
from smartmail.store.models import Case, Notice

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    reminders: int = 0
    escalations: int = 0
    closed: int = 0
    digests: int = 0
    reports: int = 0
    on_call: int = 0  # escalation steps of pages nobody took
    invoicing: int = 0
    erased: int = 0  # records past their retention (see clock/retention.py)

    def __str__(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in vars(self).items())


def sweep(app: App, now: datetime, pause: wake.Pause = wake.no_pause) -> SweepReport:
    """Everything due by `now`. `pause` is called between its steps and its transactions:
    the daemon's waits while mail waits for the writer (a burst is taken first)."""
    report = SweepReport()
    rules = app.rules()
    # Only the cases whose reminder or escalation has come (clock/wake.py); the clock
    # stands still while we wait on the customer (feedback).
    notice = _deadline_notice(app, rules, now)
    sent = wake.wake_due_cases(app.engine, rules, now, notice, pause)
    report.reminders, report.escalations = sent["reminder"], sent["escalation"]
    pause()
    _auto_close(app, rules, now, report)
    pause()
    report.on_call += on_call.escalate_untaken(app, rules, now)
    if _working_morning(rules, now):
        pause()
        _digests(app, rules, now, report)
        # Once a week, in the first sweep in business hours of the week: Monday morning
        # unless it is a holiday, later when the daemon was down (or just installed).
        pause()
        _weekly_report(app, rules, now, report)
        pause()
        _monthly_basis(app, rules, now, report)
    pause()
    erased = retention.once_a_day(app, now)
    report.erased = erased.total if erased is not None else 0
    return report


# -- reminders and escalations --------------------------------------------------------------


def _deadline_notice(app: App, rules: Rules, now: datetime) -> wake.Notify:
    """Mail a step's people about the case; the case records it."""

    def notify_step(session: Session, case: Case, step: wake.Step) -> None:
        people = _people(rules, step.to) if step.to else _owners(rules, case)
        for person in people:
            notify.deadline_notice(_context(app, rules), session, case, person, step.template, now)
        cases.record_event(session, case, step.template, cases.SYSTEM, now, to=people)

    return notify_step


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
        if _claimed(app, f"digest:{person.email}:{day}"):
            continue  # sent today: not worth reading the cases again every minute
        with read_only(app.engine) as reading:
            lines = mine(reading, person.email, person.role, now, tz)
        if lines and _digest_once(
            app, rules, f"digest:{person.email}:{day}", person.email, "digest_mine", lines, now
        ):
            report.digests += 1
    for lead in _leads(rules):
        if _claimed(app, f"digest-new:{lead}:{day}"):
            continue
        with read_only(app.engine) as reading:
            lines = new_cases(reading, now, tz)
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
    due = [m for m in rules.managers() if not _claimed(app, f"weekly:{week}:{m.email}")]
    if not due:
        return
    # Figures and charts are made outside the transactions that claim the keys: on SQLite
    # those hold the writer's turn, and mail would wait for them. The figures once, and a
    # chart per language, all drawn by one child process (clock/chart.py).
    with read_only(app.engine) as reading:
        figures = reports.compute(reading, now - timedelta(days=7), now, now)
    languages = sorted({m.language or rules.language for m in due})
    drawn = chart.draw_elsewhere([reports.chart_of(figures, lang) for lang in languages])
    pngs = dict(zip(languages, drawn, strict=True))
    for manager in due:
        language = manager.language or rules.language
        msg = reports.weekly_report_mail(
            figures,
            templates=templates_for(app.pipeline.templates, rules.templates),
            language=language,
            timezone=rules.calendar.timezone,
            identity=Identity(app.pipeline.address(), rules.name),
            to=[manager.email],
            now=now,
            png=pngs[language],
        )
        try:
            with once(app, f"weekly:{week}:{manager.email}") as session:
                secret = app.settings.secret
                queue(session, msg, case=None, now=now, template="weekly_report", secret=secret)
        except AlreadyDone:
            continue
        report.reports += 1


def _claimed(app: App, key: str) -> bool:
    """Was the once-only `key` claimed already? A read, without the writer's turn."""
    with read_only(app.engine) as reading:
        return reading.exec(select(Notice.id).where(Notice.key == key)).first() is not None


def _monthly_basis(app: App, rules: Rules, now: datetime, report: SweepReport) -> None:
    """Last month's invoicing basis, once a month to each who gets it (clock/invoicing.py)."""
    month = invoicing.month_before(now, rules.calendar.timezone)
    for to, own in invoicing.recipients(rules):
        person = rules.person(to)
        try:
            with once(app, f"invoicing:{month.label}:{to}") as session:
                rows = basis_rows(session, month.since, month.until, own)
                if not rows:
                    continue  # nobody gets an empty basis; the key stays claimed
                msg = invoicing.basis_mail(
                    rows,
                    month,
                    rules=rules,
                    templates=templates_for(app.pipeline.templates, rules.templates),
                    language=(person.language if person else "") or rules.language,
                    identity=Identity(app.pipeline.address(), rules.name),
                    to=to,
                    own=own is not None,
                    now=now,
                )
                secret = app.settings.secret
                queue(session, msg, case=None, now=now, template=invoicing.TEMPLATE, secret=secret)
        except AlreadyDone:
            continue
        report.invoicing += 1


def claim_deadlines(session: Session, rules: Rules, case_ids: set[int], now: datetime) -> None:
    """Count the reminder and escalations of each case's present deadline as sent, in the
    caller's transaction: mail moved in (`smartmail import`) has deadlines from its own
    past, and nobody is to be reminded of those. A deadline set later reminds as usual."""
    if not case_ids:
        return
    steps = {p.name: len(p.escalate) for p in rules.priorities}
    timed = session.exec(
        select(Case.id, Case.due_at, Case.priority).where(
            col(Case.id).in_(sorted(case_ids)), col(Case.due_at).is_not(None)
        )
    ).all()
    keys: dict[str, int] = {}
    for case_id, due, priority in timed:
        if case_id is None or due is None or priority not in steps:
            continue
        stamp = due.isoformat(timespec="minutes")
        keys[f"remind:{case_id}:{stamp}"] = case_id
        for step_no in range(steps[priority]):
            keys[f"escalate:{case_id}:{step_no}:{stamp}"] = case_id
    claimed = set(session.exec(select(Notice.key).where(col(Notice.key).in_(list(keys)))).all())
    for key in sorted(keys.keys() - claimed):
        insert_row(session, Notice, {"key": key, "case_id": keys[key], "created_at": now})
