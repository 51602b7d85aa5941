"""The rules' `invoicing` section: do contractors get their own rows of the monthly basis."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartmail.errors import RulesError
from smartmail.rules.load import load_rules
from smartmail.rules.model import Rules
from tests.conftest import TEST_RULES


def _load(tmp_path: Path, extra: str) -> Rules:
    path = tmp_path / "rules.yaml"
    path.write_text(TEST_RULES + extra, encoding="utf-8")
    return load_rules(path)


def test_managers_only_unless_said_otherwise(tmp_path: Path) -> None:
    assert _load(tmp_path, "").invoicing_contractors is False
    assert _load(tmp_path, "invoicing: {}\n").invoicing_contractors is False
    assert _load(tmp_path, "invoicing: {contractors: true}\n").invoicing_contractors is True


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        ("invoicing: {contractors: ja}\n", "invoicing.contractors: should be true or false"),
        ("invoicing: {contractor: true}\n", "invoicing"),
    ],
)
def test_a_wrong_value_names_file_line_and_key(tmp_path: Path, extra: str, where: str) -> None:
    with pytest.raises(RulesError) as raised:
        _load(tmp_path, extra)
    line = TEST_RULES.count("\n") + 1
    assert f"rules.yaml:{line}: {where}" in str(raised.value)
