"""The rules' `web_form` limits and `form: true` on categories: what the page offers and takes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartmail.errors import RulesError
from smartmail.mail.parse import parse
from smartmail.rules.load import rules_from_text
from smartmail.rules.model import RateLimit, WebForm, default_rules
from tests.conftest import TEST_RULES

FORM_RULES = TEST_RULES.replace(
    "  - name: Skador i lägenheten\n", "  - name: Skador i lägenheten\n    form: true\n"
)


def test_defaults_unless_the_rules_say_otherwise() -> None:
    assert rules_from_text(TEST_RULES, "rules.yaml").web_form == WebForm()
    assert default_rules().web_form == WebForm(
        5, 8, 15, 3, RateLimit(20, timedelta(hours=1)), RateLimit(5, timedelta(hours=1))
    )
    given = rules_from_text(
        TEST_RULES + "web_form: {max_files: 2, per_email: {posts: 3, within: 1d}}\n", "rules.yaml"
    )
    assert given.web_form.max_files == 2
    assert given.web_form.per_email == RateLimit(3, timedelta(days=1))
    assert given.web_form.per_client == WebForm().per_client


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("web_form: {max_files: 6}", "rules.yaml:39: web_form.max_files: should be at most 5"),
        ("web_form: {max_file_mb: 0}", "rules.yaml:39: web_form.max_file_mb: should be a whole"),
        (
            "web_form: {max_file_mb: 10, max_total_mb: 5}",
            "rules.yaml:39: web_form.max_total_mb: should be at least max_file_mb",
        ),
        (
            "web_form: {per_client: {posts: 0, within: 1h}}",
            "rules.yaml:39: web_form.per_client.posts: should be a whole number >= 1",
        ),
        (
            "web_form: {per_email: {posts: 5, within: 0m}}",
            "rules.yaml:39: web_form.per_email.within: should be longer than 0m",
        ),
        ("web_form: {max_photos: 5}", "rules.yaml:39: web_form.max_photos: unknown key"),
    ],
)
def test_a_bad_web_form_names_file_line_and_key(text: str, problem: str) -> None:
    with pytest.raises(RulesError) as raised:
        rules_from_text(TEST_RULES + text + "\n", "rules.yaml")
    assert str(raised.value).startswith(problem), str(raised.value)


def test_form_true_offers_a_category_and_must_be_true_or_false() -> None:
    assert rules_from_text(FORM_RULES, "rules.yaml").form_categories == ("Skador i lägenheten",)
    assert rules_from_text(TEST_RULES, "rules.yaml").form_categories == ()
    with pytest.raises(RulesError, match=r"categories\[0\]\.form: should be true or false"):
        rules_from_text(FORM_RULES.replace("form: true", "form: ja"), "rules.yaml")


def _mail(text: str) -> bytes:
    return f"From: eva@kund.example\r\nSubject: Fel\r\n\r\n{text}\r\n".encode()


def test_a_chosen_category_routes_among_its_own_groups() -> None:
    rules = rules_from_text(FORM_RULES, "rules.yaml")
    drain = rules.route_in("Skador i lägenheten", parse(_mail("Stopp i avloppet")))
    assert (drain.category, drain.group) == ("Skador i lägenheten", "Stopp i avlopp")
    # No group's words: the category's first group, and the reason says it was chosen.
    lamp = rules.route_in("Skador i lägenheten", parse(_mail("Lampan är trasig")))
    assert (lamp.category, lamp.group) == ("Skador i lägenheten", "Stopp i avlopp")
    assert "chosen on the fault-report page" in lamp.reason
    # A category the page does not offer counts for nothing: the words decide.
    other = rules.route_in("Övrigt", parse(_mail("Stopp i avloppet")))
    assert other.group == "Stopp i avlopp"
    assert rules.route_in("Hittepå", parse(_mail("Lampan"))).category == "Övrigt"
