"""The rules' `loop_limit`: how much mail per case and per address, each way, in what time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartmail.errors import RulesError
from smartmail.rules.load import rules_from_text
from smartmail.rules.model import LoopLimit, default_rules
from tests.conftest import TEST_RULES


def test_ten_mails_in_ten_minutes_unless_the_rules_say_otherwise() -> None:
    assert rules_from_text(TEST_RULES, "rules.yaml").loop_limit == LoopLimit(
        10, timedelta(minutes=10)
    )
    assert default_rules().loop_limit == LoopLimit(10, timedelta(minutes=10))
    given = rules_from_text(TEST_RULES + "loop_limit: {mails: 5, within: 1h}\n", "rules.yaml")
    assert given.loop_limit == LoopLimit(5, timedelta(hours=1))
    only_mails = rules_from_text(TEST_RULES + "loop_limit: {mails: 20}\n", "rules.yaml")
    assert only_mails.loop_limit == LoopLimit(20, timedelta(minutes=10))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "loop_limit: {mails: 0}",
            "rules.yaml:39: loop_limit.mails: should be a whole number >= 1",
        ),
        ("loop_limit: {within: 0m}", "rules.yaml:39: loop_limit.within: should be longer than 0m"),
        ("loop_limit: {within: soon}", "rules.yaml:39: loop_limit.within: bad duration 'soon'"),
        ("loop_limit: {mail: 5}", 'rules.yaml:39: loop_limit.mail: unknown key "mail" (did you'),
        ("loop_limit: 10", "rules.yaml:39: loop_limit: should be a mapping"),
        ("loop_limit:\n  mails: many", "rules.yaml:40: loop_limit.mails: should be a whole number"),
    ],
)
def test_a_bad_loop_limit_names_file_line_and_key(text: str, problem: str) -> None:
    with pytest.raises(RulesError) as raised:
        rules_from_text(TEST_RULES + text + "\n", "rules.yaml")
    assert problem in str(raised.value)
