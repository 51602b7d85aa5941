"""Who is on call: the rotation over a weekend and a holiday, overrides, phones, checks."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from smartmail.errors import RulesError
from smartmail.rules.load import rules_from_text
from smartmail.rules.on_call import covers, next_on_call, on_call_at, pages
from smartmail.rules.phones import e164
from tests.rules.on_call_rules import KALLE, LISA, ON_CALL_RULES

STOCKHOLM = ZoneInfo("Europe/Stockholm")
RULES = rules_from_text(ON_CALL_RULES, "rules.yaml")


def at(text: str) -> datetime:
    """A wall time in Stockholm, travelled to: the rules are asked about `now`."""
    return datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM)


def who_now() -> tuple[str | None, bool]:
    now = datetime.now(UTC)
    return on_call_at(RULES, now), covers(RULES, now)


@pytest.mark.parametrize(
    ("moment", "person", "on_duty"),
    [
        ("2026-12-04 15:00", "lisa@bostad.example", False),  # Friday, office open
        ("2026-12-04 22:40", "lisa@bostad.example", True),  # Friday evening
        ("2026-12-05 22:40", "lisa@bostad.example", True),  # Saturday night
        ("2026-12-06 23:59", "lisa@bostad.example", True),  # Sunday, last minute of her week
        ("2026-12-07 00:01", "kalle@bostad.example", True),  # Monday night: his week
        ("2026-12-07 10:00", "kalle@bostad.example", False),  # Monday, office open
        ("2026-12-24 10:00", "lisa@bostad.example", True),  # Christmas Eve: closed, override
        ("2026-12-25 10:00", "kalle@bostad.example", True),  # Christmas Day, a Friday
        ("2026-12-28 10:00", "lisa@bostad.example", False),  # the Monday after: open again
    ],
)
def test_the_rotation_across_a_weekend_and_holidays(
    moment: str, person: str, on_duty: bool
) -> None:
    with time_machine.travel(at(moment), tick=False):
        assert who_now() == (person, on_duty)


def test_only_an_on_call_priority_outside_hours_pages() -> None:
    akut, normal = RULES.priority("akut"), RULES.priority("normal")
    saturday, friday = at("2026-12-05 22:40"), at("2026-12-04 15:00")
    assert pages(RULES, akut, saturday) == "lisa@bostad.example"
    assert pages(RULES, akut, friday) is None  # business hours
    assert pages(RULES, normal, saturday) is None  # no on_call: true


def test_always_pages_also_in_office_hours() -> None:
    rules = rules_from_text(
        ON_CALL_RULES.replace("hours: outside_business_hours", "hours: always"), "rules.yaml"
    )
    assert pages(rules, rules.priority("akut"), at("2026-12-04 15:00")) == "lisa@bostad.example"


def test_the_next_on_the_rotation_is_the_first_to_escalate_to() -> None:
    assert next_on_call(RULES, at("2026-12-05 22:40")) == "kalle@bostad.example"
    assert next_on_call(RULES, at("2026-12-07 01:00")) == "lisa@bostad.example"


def test_phones_are_stored_in_e164() -> None:
    assert RULES.person("kalle@bostad.example").phone == KALLE  # "070-123 45 67"
    assert RULES.person("lisa@bostad.example").phone == LISA  # "+46 70 765 43 21"
    assert e164("070-123 45 67") == KALLE
    assert e164("12") is None
    assert e164("not a number; rm -rf /") is None


@pytest.mark.parametrize(
    ("change", "key", "says"),
    [
        (('phone: "070-123 45 67"', 'phone: "07"'), "people[0].phone", "no phone number"),
        (
            ("people: [kalle@bostad.example, lisa", "people: [jobb@rorab.example, lisa"),
            "on_call.rotation.people[0]",
            "is a contractor",
        ),
        (("every: 1w", "every: often"), "on_call.rotation.every", "bad turn length"),
        (
            ("{2026-12-24: lisa@bostad.example}", "{2026-12-24: kund@example.com}"),
            "on_call.overrides.2026-12-24",
            "not among the people",
        ),
        (("hours: outside_business_hours", "hours: nights"), "on_call.hours", "unknown hours"),
        (("notify: [mail, sms]", "notify: [mail, pigeon]"), "priorities[0].notify", "pigeon"),
    ],
)
def test_a_wrong_on_call_names_file_line_and_key(
    change: tuple[str, str], key: str, says: str
) -> None:
    with pytest.raises(RulesError) as caught:
        rules_from_text(ON_CALL_RULES.replace(*change), "rules.yaml")
    problems = [p for p in caught.value.problems if p.key == key]
    assert problems, caught.value
    assert says in problems[0].message
    assert problems[0].line > 0


def test_someone_on_call_without_a_phone_is_refused() -> None:
    text = ON_CALL_RULES.replace(", phone: +46 70 765 43 21}", "}")
    with pytest.raises(RulesError, match=r"lisa@bostad\.example has no phone"):
        rules_from_text(text, "rules.yaml")


def test_an_on_call_priority_needs_the_on_call_section() -> None:
    text = ON_CALL_RULES.split("on_call:\n  hours")[0]
    with pytest.raises(RulesError, match="no on_call: section"):
        rules_from_text(text, "rules.yaml")
