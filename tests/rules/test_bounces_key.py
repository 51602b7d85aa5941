"""The rules' `bounces` section: how long a permanent bounce holds back automatic mail."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from smartmail.errors import RulesError
from smartmail.rules.load import load_rules
from tests.conftest import TEST_RULES

ROOT = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, extra: str):
    path = tmp_path / "rules.yaml"
    path.write_text(TEST_RULES + extra, encoding="utf-8")
    return load_rules(path)


def test_thirty_days_unless_said_otherwise(tmp_path: Path) -> None:
    assert _load(tmp_path, "").bounce_suppress_for == timedelta(days=30)
    assert _load(tmp_path, "bounces: {}\n").bounce_suppress_for == timedelta(days=30)
    assert _load(tmp_path, "bounces:\n").bounce_suppress_for == timedelta(days=30)


@pytest.mark.parametrize(
    ("value", "held"),
    [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)), ("0", timedelta(0))],
)
def test_suppress_for(tmp_path: Path, value: str, held: timedelta) -> None:
    rules = _load(tmp_path, f"bounces:\n  suppress_for: {value}\n")
    assert rules.bounce_suppress_for == held


def test_the_shipped_rules_say_thirty_days() -> None:
    assert load_rules(ROOT / "rules.yaml").bounce_suppress_for == timedelta(days=30)


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ("bounces:\n  suppress_for: soon\n", "bounces.suppress_for", "bad duration 'soon'"),
        ("bounces:\n  suppress_for: -3d\n", "bounces.suppress_for", "bad duration '-3d'"),
        ("bounces:\n  supress_for: 3d\n", "bounces.supress_for", 'did you mean "suppress_for"'),
        ("bounces: 30d\n", "bounces", "should be a mapping"),
    ],
)
def test_mistakes_name_file_line_and_key(
    tmp_path: Path, extra: str, key: str, message: str
) -> None:
    with pytest.raises(RulesError) as caught:
        _load(tmp_path, extra)
    (problem,) = caught.value.problems
    assert (problem.key, problem.file) == (key, str(tmp_path / "rules.yaml"))
    assert message in problem.message
    wanted = key.rsplit(".", 1)[-1] + ":"
    lines = (TEST_RULES + extra).splitlines()
    assert lines[problem.line - 1].strip().startswith(wanted), problem
