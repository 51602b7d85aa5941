"""Sample data for every template, to render the office's own templates with before any real
mail needs them (`smartmail rules check`, `smartmail doctor`).

Each template gets every value the code hands any template, in each of the forms that change
what it shows (an answer with and without a closing notice, say), so that a branch of an
override that only some mail takes is rendered too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from smartmail.clock import reports
from smartmail.desk.commands import help_lines
from smartmail.desk.queries import case_line
from smartmail.desk.report import Block, Report
from smartmail.mail.phrases import N_, phrase, render, status
from smartmail.rules.retention import Period, Privacy, Retention
from smartmail.store.models import Case, Message, Party

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)


def _case() -> Case:
    return Case(
        id=7,
        subject="Stopp i avloppet",
        status="assigned",
        priority="akut",
        category="Skador i lägenheten",
        group="Stopp i avlopp",
        assignee="kalle@bostad.example",
        customer=Party(id=1, email="eva@kund.example", name="Eva Ek"),
        created_at=NOW - timedelta(hours=2),
        updated_at=NOW,
        respond_due_at=NOW + timedelta(hours=1),
        due_at=NOW + timedelta(hours=4),
    )


def _figures() -> reports.Figures:
    return reports.Figures(
        since=NOW - timedelta(days=7),
        until=NOW,
        cases_in=12,
        cases_closed=9,
        open_now=5,
        late_now=1,
        first_response_median_h=1.5,
        first_response_p90_h=6.0,
        resolution_median_h=20.0,
        resolution_p90_h=70.0,
        resolved_within_deadline=0.8,
        reopen_rate=0.1,
        per_category=[],
        open_per_owner=[],
        top_categories=[],
    )


def _base(language: str, timezone: ZoneInfo) -> dict[str, Any]:
    case = _case()
    person = Party(id=2, email="kalle@bostad.example", name="Kalle Karlsson")
    figures = _figures()
    report = Report(
        changes=[phrase(N_("case {number}: {change}"), number=7, change=status("resolved"))],
        problems=[phrase(N_("that is already past"))],
        answers=[Block("#mine", [], phrase(N_("no open cases")))],
        help_for="staff",
    )
    return {
        "case": case,
        "address": "felanmalan@bostad.example",
        "status_name": render(status(case.status), language),
        "customer_name": "Eva",
        "customer": person,
        "sender": person,
        "text": "Det är stopp i avloppet i köket.",
        "attachment_names": ["bild.jpg"],
        "commands": help_lines("staff", language),
        "by": "kalle@bostad.example",
        "by_name": "Kalle Karlsson",
        "closing": "",
        "late": "2 h",
        "left": "2 h",
        "lines": [render(case_line(case, NOW, timezone), language)],
        "person_name": "Kalle",
        "manager_name": "Anna",
        "source": "/etc/smartmail/rules.yaml",
        "problem": "rules.yaml:3: address: expected an email address",
        "subject": "Stopp i avloppet",
        "report": report.in_language(language),
        "reason": render(phrase(N_("it did not answer a mail we sent you")), language),
        "had_commands": True,
        "had_text": True,
        "number": 7,
        "figures": figures,
        "table": reports.as_text(figures, language, timezone),
        "failed": Message(
            id=3,
            message_id="<7@bostad.example>",
            direction="out",
            to_addrs="eva@kund.example",
            subject="Stopp i avloppet",
        ),
        "error": "550 5.1.1 no such user",
        "status": "5.1.1",
        "until": NOW + timedelta(days=30),
        "mails": 10,
        "within": "10m",
        "first_day": NOW.date(),
        "last_day": NOW.date(),
        "now": NOW,
        "follow_url": "https://felanmalan.bostad.example/case/7-abc",
        "case_type": "fel",
        "labels": ["vatten", "storgatan5"],
        "channel": "phone",
        "channel_name": "phone",
        "watchers": ["lisa@bostad.example"],
        "month": "2026-11",
        "own": False,
        "summary": "Kalle Karlsson: 2 h 30 min, 498,00 kr",
        "privacy": Privacy(contact="dataskydd@bostad.example"),
    }


def contexts(name: str, language: str, timezone: ZoneInfo) -> list[dict[str, Any]]:
    """The sample values to render template `name` with, once per form it may take."""
    base = _base(language, timezone)
    if name == "answer":
        return [{**base, "closing": closing} for closing in ("", "resolved", "closed")]
    if name == "unproven":
        return [
            {**base, "had_commands": c, "had_text": t, "number": n}
            for c in (True, False)
            for t in (True, False)
            for n in (0, 7)
        ]
    if name == "ack":  # with and without a link to follow the case, kept months or days
        days = Privacy(Retention(closed_cases=Period(days=90)))
        links = [{**base, "follow_url": url} for url in ("", base["follow_url"])]
        return [*links, {**base, "privacy": days}]
    if name == "bounce":  # the failed address and the report's words, not a mail
        return [
            {**base, "failed": "eva@kund.example", "reason": "no such user", "until": until}
            for until in (None, NOW + timedelta(days=30))
        ]
    return [base]
