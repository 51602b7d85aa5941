"""One language per mail: every template and every phrase, in Swedish and in English, holds
none of the other language's common words; every phrase the code marks has its Swedish."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir

from smartmail.app import App
from smartmail.clock import reports
from smartmail.desk import invoicing
from smartmail.desk.commands import SPECS, help_lines
from smartmail.desk.queries import case_line
from smartmail.desk.report import Block, Report
from smartmail.mail import phrases
from smartmail.mail.compose import TEMPLATE_DIRS, Templates
from smartmail.mail.phrases import N_, phrase, render, status, word
from smartmail.rules.retention import Period, Privacy, Retention
from smartmail.store.db import transaction
from smartmail.store.models import CLOSED_STATUSES, OPEN_STATUSES, Case

PACKAGE = Path(phrases.__file__).resolve().parent.parent
TZ = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)

# Common words that give the other language away. ("status" is Swedish too, and
# "#status" a command in both, so it is left out of the English list.)
STOP_WORDS = {
    "sv": {"och", "ärende", "ärenden", "inte", "har", "till", "är", "för", "det", "som", "med"},
    "en": {"the", "case", "cases", "not", "has", "was", "and", "is", "to", "of", "your", "you"},
}
OTHER = {"sv": "en", "en": "sv"}
# Words after "#" are commands (each language's aliases are listed in #help); inside
# <...> they name what a command takes.
_WORDS = re.compile(r"(?<![#\w])[^\W\d_]+")

EVENT_KINDS = [
    *("created", "mail_in", "mail_out", "routed", "assigned", "status", "reopened"),
    *("clock_paused", "clock_resumed", "priority", "category", "due", "forwarded", "time"),
    *("material", "linked", "merged_into", "merged_from", "first_response", "follow_up_of"),
    *("followed_up_by", "delivery_failed", "unproven_mail", "reminder", "escalation"),
    *("auto_closed", "answer_held", "answer_released"),
    *("mail_refused", "loop_limit", "suppressed", "unsuppressed", "mail_skipped"),
    *("on_call", "taken", "on_call_escalated", "sms_failed"),
    *("labels", "type", "channel", "watching", "unwatched"),
    "link_revoked",
    *("hold", "erased"),
    "canned_answer",
]


def foreign_words(text: str, language: str) -> set[str]:
    return {w.casefold() for w in _WORDS.findall(text)} & STOP_WORDS[OTHER[language]]


class Any_:  # a value for any {field:spec} of a phrase
    def __format__(self, spec: str) -> str:
        return "7"


def marked() -> set[tuple[str, str]]:
    """(context, text) of every phrase and word the code marks, as pybabel finds them."""
    keywords = {"N_": None, "NC_": ((1, "c"), 2)}
    found = extract_from_dir(str(PACKAGE), method_map=[("**.py", "python")], keywords=keywords)
    return {(context or "", message) for _, _, message, _, context in found}


def marked_phrases() -> set[str]:
    return {text for context, text in marked() if not context}


def context_words() -> list[tuple[str, str]]:
    return sorted((context, text) for context, text in marked() if context)


def test_every_status_event_and_command_has_a_marked_word() -> None:
    words = set(context_words())
    assert {("status", s) for s in (*OPEN_STATUSES, *CLOSED_STATUSES)} <= words
    assert {("event", kind.replace("_", " ")) for kind in EVENT_KINDS} <= words
    assert {("usage", spec.usage) for spec in SPECS} <= words
    assert {("visibility", v) for v in ("public", "internal")} <= words


def test_every_marked_phrase_and_word_has_its_swedish() -> None:
    catalog = phrases.read_catalog("sv")
    missing = [
        text for text in marked_phrases() if not (m := catalog.get(text)) or not m.string or m.fuzzy
    ]
    missing += [
        f"{ctx}: {text}"
        for ctx, text in context_words()
        if not (m := catalog.get(text, ctx)) or not m.string or m.fuzzy
    ]
    assert missing == []


def test_a_translation_names_the_same_fields_as_its_english() -> None:
    fields = string.Formatter()
    for message in phrases.read_catalog("sv"):
        if not message.id or not isinstance(message.id, str):
            continue
        english = {f for _, f, _, _ in fields.parse(message.id) if f}
        swedish = {f for _, f, _, _ in fields.parse(str(message.string)) if f}
        assert english == swedish, message.id


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_phrase_speaks_one_language(language: str) -> None:
    texts = []
    for text in marked_phrases():
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        texts.append(render(phrase(text, **dict.fromkeys(names, Any_())), language))  # type: ignore[arg-type]
    texts += [render(word(ctx, text), language) for ctx, text in context_words()]
    for role in ("customer", "staff", "manager", "contractor"):
        texts += help_lines(role, language)
    wrong = {text: foreign_words(text, language) for text in texts if foreign_words(text, language)}
    assert wrong == {}


def test_swedish_is_swedish_and_english_the_key() -> None:
    resolved = phrase(N_("case {number}: {change}"), number=3, change=status("resolved"))
    assert render(resolved, "sv") == "ärende 3: löst"
    assert render(resolved, "en") == "case 3: resolved"
    assert render(resolved, "de") == "case 3: resolved"  # a language we do not have


def test_values_are_values_never_format_strings() -> None:
    hostile = "{number} {0.__class__} {{x}} %s"
    assert render(phrase(N_("forwarded to {contractor}"), contractor=hostile), "en") == (
        f"forwarded to {hostile}"
    )


# -- templates --------------------------------------------------------------------------------


def _case(status_value: str = "assigned") -> SimpleNamespace:
    return SimpleNamespace(
        number=7,
        subject="Xq",
        status=status_value,
        priority="akut",
        category="Qz",
        group="Zq",
        due_at=NOW + timedelta(hours=4),
        respond_due_at=NOW + timedelta(hours=1),
        assignee="q@x.example",
    )


def _report() -> Report:
    report = Report(
        changes=[phrase(N_("case {number}: {change}"), number=7, change=status("resolved"))],
        problems=[phrase(N_("that is already past"))],
        answers=[Block("#mine", [], phrase(N_("no open cases")))],
        help_for="staff",
    )
    return report


def _context(app: App, language: str, name: str) -> dict[str, Any]:
    person = SimpleNamespace(name="Qx Zy", email="q@x.example")
    case = _case()
    with transaction(app.engine) as session:
        figures = reports.compute(session, NOW - timedelta(days=7), NOW, NOW)
    line = case_line(Case(id=7, subject="Xq", status="new", priority="akut"), NOW, TZ)
    return {
        "case": case,
        "address": "desk@x.example",
        "status_name": render(status(case.status), language),
        "customer_name": "Qx",
        "follow_url": "https://x.example/q/7-zq",
        "customer": person,
        "sender": person,
        "text": "Xq zq.",
        "attachment_names": ["x.pdf"],
        "commands": help_lines("staff", language),
        "by": "q@x.example",
        "by_name": "Qx Zy",
        "closing": "",
        "late": "2 h",
        "left": "2 h",
        "lines": [render(line, language)],
        "person_name": "Qx",
        "manager_name": "Qx",
        "source": "rules.yaml",
        "problem": "rules.yaml:3: x: y",
        "subject": "Xq",
        "report": _report().in_language(language),
        "reason": render(phrase(N_("it did not answer a mail we sent you")), language),
        "had_commands": True,
        "had_text": True,
        "number": 7,
        "figures": figures,
        "table": reports.as_text(figures, language, TZ),
        "failed": SimpleNamespace(to_addrs="q@x.example", subject="Xq"),
        "error": "550 5.1.1 Xq",
        "mails": 10,
        "within": "10m",
        "first_day": NOW.date(),
        "case_type": "xq",
        "labels": ["xq"],
        "channel": "phone",
        "channel_name": render(word("channel", "phone"), language),
        "last_day": NOW.date(),
        "month": "2026-11",
        "summary": invoicing.summary([], language, {}),
        "own": False,
        "privacy": Privacy(contact="dp@x.example"),
    }


TEMPLATES = sorted(p.stem for p in (TEMPLATE_DIRS[0] / "sv").glob("*.txt"))


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_speaks_one_language(app: App, language: str, name: str) -> None:
    templates = Templates()
    context = _context(app, language, name)
    variants = [context]
    if name == "answer":
        variants = [{**context, "closing": c} for c in ("", "resolved", "closed")]
    if name == "unproven":
        variants = [
            {**context, "had_commands": c, "had_text": t, "number": n}
            for c in (True, False)
            for t in (True, False)
            for n in (0, 7)
        ]
    if name == "invoicing_basis":  # a manager's basis, or a contractor's own rows
        variants = [{**context, "own": own} for own in (True, False)]
    if name == "ack":  # kept for months or days, with a contact or without
        days = Privacy(Retention(closed_cases=Period(days=90)))
        variants = [context, {**context, "privacy": days}]
    if name == "bounce":  # the failed address and the report's words, not a mail
        variants = [
            {**context, "failed": "q@x.example", "status": "5.1.1", "reason": "Xq", "until": u}
            for u in (None, NOW)
        ]
    for variables in variants:
        rendered = templates.render(language, name, TZ, **variables)
        text = f"{rendered.subject}\n{rendered.body}"
        assert foreign_words(text, language) == set(), (name, variables.get("closing"))


def test_every_template_exists_in_both_languages() -> None:
    names = {lang: {p.name for p in (TEMPLATE_DIRS[0] / lang).glob("*.txt")} for lang in OTHER}
    assert names["sv"] == names["en"]


def test_times_in_mail_are_local_with_the_zone(app: App) -> None:
    rendered = Templates().render("sv", "reminder", TZ, **_context(app, "sv", "reminder"))
    assert "14:00 CET" in rendered.body  # 13:00 UTC in Stockholm in November
    assert "2026-11-23 11:00 CET" in render(
        case_line(
            Case(id=7, subject="X", status="new", priority="akut", due_at=NOW + timedelta(hours=1)),
            NOW,
            TZ,
        ),
        "sv",
    )
