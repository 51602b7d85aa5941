"""The rules' `name`: the office's name, the display name of every mail we send."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartmail.errors import RulesError
from smartmail.rules.load import load_rules, rules_from_text
from tests.conftest import TEST_RULES

SHIPPED = Path(__file__).resolve().parents[2] / "rules.yaml"


def test_the_shipped_rules_name_the_office() -> None:
    assert load_rules(SHIPPED).name == "Bostad AB Felanmälan"


def test_without_a_name_the_from_is_the_address_alone() -> None:
    assert rules_from_text(TEST_RULES, "rules.yaml").name == ""


@pytest.mark.parametrize(
    "name", ["Bostad AB", "Bostäder i Ålund AB", '"AB", Ltd <x>', "住宅 株式会社"]
)
def test_a_name_in_any_script_is_taken_as_written(name: str) -> None:
    text = f"name: '{name}'\n{TEST_RULES}"
    assert rules_from_text(text, "rules.yaml").name == name


@pytest.mark.parametrize(
    "value", ['"Bostad\\r\\nBcc: evil@evil.example"', '"Bostad\\tAB"', "''", "[a, b]", "x" * 101]
)
def test_a_name_that_is_not_one_line_of_text_is_an_error_with_its_line(value: str) -> None:
    with pytest.raises(RulesError) as error:
        rules_from_text(f"name: {value}\n{TEST_RULES}", "rules.yaml")
    assert str(error.value).startswith("rules.yaml:1: name: should be")
