"""The rules' `privacy:` section: defaults, periods in months and days, errors with file,
line and key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smartmail.errors import RulesError
from smartmail.rules.load import rules_from_text
from smartmail.rules.retention import Period, Privacy, Retention, parse_period
from tests.conftest import TEST_RULES


def test_without_a_privacy_section_the_defaults_hold() -> None:
    privacy = rules_from_text(TEST_RULES, "rules.yaml").privacy
    assert privacy == Privacy()
    assert privacy.retention == Retention(
        closed_cases=Period(months=24),
        raw_mail=Period(days=90),
        attachments=Period(months=12),
        quarantine=Period(days=30),
        access_log=Period(months=24),
    )
    assert (privacy.mask_stored, privacy.contact) == (False, "")


def test_each_key_may_be_given_and_the_rest_keep_their_defaults() -> None:
    text = TEST_RULES + (
        "privacy:\n"
        "  retention: {closed_cases: 3y, raw_mail: 12w}\n"
        "  mask_stored: true\n"
        "  contact: Dataskydd@Bostad.example\n"
    )
    privacy = rules_from_text(text, "rules.yaml").privacy
    assert privacy.retention.closed_cases == Period(months=36)
    assert privacy.retention.raw_mail == Period(days=84)
    assert privacy.retention.attachments == Period(months=12)
    assert privacy.mask_stored is True
    assert privacy.contact == "dataskydd@bostad.example"


@pytest.mark.parametrize(
    ("section", "key", "says"),
    [
        ("  retention: {closed_cases: 24 months}\n", "privacy.retention.closed_cases", "24mo"),
        ("  retention: {raw_mail: 0d}\n", "privacy.retention.raw_mail", "bad period"),
        ("  retention: {raw: 90d}\n", "privacy.retention.raw", "unknown key"),
        ("  mask_stored: yes please\n", "privacy.mask_stored", "true or false"),
        ("  contact: dataskydd\n", "privacy.contact", "not an email address"),
    ],
)
def test_a_wrong_value_names_file_line_and_key(section: str, key: str, says: str) -> None:
    text = TEST_RULES + "privacy:\n" + section
    line = len(TEST_RULES.splitlines()) + 2
    with pytest.raises(RulesError) as caught:
        rules_from_text(text, "rules.yaml")
    message = str(caught.value)
    assert f"rules.yaml:{line}: {key}:" in message
    assert says in message


@pytest.mark.parametrize(
    ("period", "now", "before"),
    [
        ("24mo", datetime(2028, 1, 6, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)),
        ("1mo", datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        ("13mo", datetime(2026, 1, 5, tzinfo=UTC), datetime(2024, 12, 5, tzinfo=UTC)),
        ("90d", datetime(2026, 4, 6, tzinfo=UTC), datetime(2026, 1, 6, tzinfo=UTC)),
        ("2w", datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_period_counts_calendar_months_or_days(
    period: str, now: datetime, before: datetime
) -> None:
    assert parse_period(period).before(now) == before
    assert str(parse_period(period)) == {"2w": "14d"}.get(period, period)
