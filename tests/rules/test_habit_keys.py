"""rules.yaml: `types`, a group's `type` and `labels`, and `recipient: area` with a fallback."""

from __future__ import annotations

import textwrap

import pytest

from smartmail.errors import RulesError
from smartmail.rules.load import rules_from_text
from tests.conftest import TEST_RULES
from tests.rules.test_rules import make_mail

HABITS = TEST_RULES.replace(
    "people:\n  - {email: kalle@bostad.example, name: Kalle Karlsson, role: staff}\n"
    "  - {email: lisa@bostad.example, name: Lisa Berg, role: staff}\n",
    "types: [fel, fråga, beställning]\n"
    "people:\n"
    "  - {email: kalle@bostad.example, name: Kalle Karlsson, role: staff, area: Norr}\n"
    "  - {email: lisa@bostad.example, name: Lisa Berg, role: staff, area: Storgatan}\n",
).replace(
    "        recipient: fastighetsskotare\n        priority: akut\n",
    "        recipient: area\n        fallback: fastighetsskotare\n"
    "        priority: akut\n        type: fel\n        labels: [Vatten, rör/stam]\n",
)
assert HABITS != TEST_RULES


def test_types_and_a_group_s_type_and_labels() -> None:
    rules = rules_from_text(HABITS, "rules.yaml")
    assert rules.types == ("fel", "fråga", "beställning")
    route = rules.route(make_mail("Stopp i avloppet"))
    assert (route.type, route.labels) == ("fel", ("vatten", "rör/stam"))
    other = rules.route(make_mail("Hej", "en fråga"))
    assert (other.type, other.labels) == (None, ())


def test_area_word_in_the_mail_then_what_we_know_then_the_fallback() -> None:
    rules = rules_from_text(HABITS, "rules.yaml")
    assert rules.uses_areas
    in_text = rules.route(make_mail("Stopp", "Avloppet på Storgatan 5 är stopp"))
    assert in_text.recipient == "lisa@bostad.example"
    assert "area Storgatan (mail: storgatan)" in in_text.reason
    known = rules.route(make_mail("Stopp", "i köket"), known="Eva Lind\nNorrgatan 3, Norr")
    assert known.recipient == "kalle@bostad.example"
    assert "(customer: norr)" in known.reason
    neither = rules.route(make_mail("Stopp", "i köket"), known="Söder")
    assert neither.recipient == "fastighetsskotare"
    assert "fallback fastighetsskotare" in neither.reason


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("type: fel", "type: fell"), 'unknown type "fell"'),
        (("fallback: fastighetsskotare\n", "\n"), "recipient: area needs a fallback"),
        (("fallback: fastighetsskotare", "fallback: nobody"), 'unknown fallback "nobody"'),
        (("labels: [Vatten, rör/stam]", "labels: [a b]"), '"a b": letters, digits'),
        (("types: [fel, fråga, beställning]", "types: [fel, två ord]"), "a type is one word"),
    ],
)
def test_mistakes_name_file_line_and_key(change: tuple[str, str], message: str) -> None:
    with pytest.raises(RulesError) as caught:
        rules_from_text(HABITS.replace(*change), "rules.yaml")
    text = str(caught.value)
    assert message in text
    assert "rules.yaml:" in text


def test_a_fallback_without_area_is_a_mistake() -> None:
    broken = TEST_RULES.replace(
        "        recipient: fastighetsskotare\n",
        "        recipient: fastighetsskotare\n        fallback: forvaltare\n",
    )
    with pytest.raises(RulesError, match="a fallback goes with recipient: area"):
        rules_from_text(broken, "rules.yaml")


def test_rules_without_the_new_keys_are_as_before() -> None:
    rules = rules_from_text(textwrap.dedent(TEST_RULES), "rules.yaml")
    assert rules.types == ()
    assert not rules.uses_areas
