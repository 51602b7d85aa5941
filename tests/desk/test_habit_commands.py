"""Parsing the desk's everyday commands: #customer, #channel, #quiet, #label, #type, #watch."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartmail.desk.commands import (
    BadCommand,
    Customer,
    Labels,
    Standing,
    help_lines,
    parse_line,
    refusal,
    split_commands,
)
from smartmail.rules.model import clean_label


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("#customer eva@example.org", Customer("eva@example.org", "")),
        ('#kund Eva@Example.org "Eva Lind"', Customer("eva@example.org", "Eva Lind")),
        ("#kund: <eva@example.org> \u201cEva  Lind\u201d", Customer("eva@example.org", "Eva Lind")),
        ("#customer åsa@kund.example Åsa", Customer("åsa@kund.example", "Åsa")),
    ],
)
def test_customer_names_one_address_and_maybe_a_name(line: str, value: Customer) -> None:
    assert parse_line(line).value == value


@pytest.mark.parametrize(
    "line",
    [
        "#customer",
        "#customer eva",
        '#customer "x,evil@evil.example,y"@kund.example',
        "#customer eva@example.org,evil@evil.example",
        "#customer eva@example.org\r\nBcc: evil@evil.example",
        "#customer Eva Lind <eva@example.org>",
    ],
)
def test_anything_but_one_plain_address_is_refused(line: str) -> None:
    with pytest.raises(BadCommand):
        parse_line(line)


@given(st.text(max_size=120))
def test_a_customer_is_one_address_or_nothing(rest: str) -> None:
    try:
        value = parse_line(f"#customer {rest}").value
    except BadCommand:
        return
    assert isinstance(value, Customer)
    assert not any(c in value.email for c in ' ,;<>"\r\n\t')
    assert value.name.isprintable()
    assert len(value.name) <= 100


@pytest.mark.parametrize(
    ("line", "channel"),
    [
        ("#channel phone", "phone"),
        ("#kanal telefon", "phone"),
        ("#kanal besök", "visit"),
        ("#KANAL Brev", "letter"),
        ("#channel mejl", "mail"),
    ],
)
def test_channel_words(line: str, channel: str) -> None:
    assert parse_line(line).value == channel


def test_web_is_the_form_s_channel_not_a_staff_member_s() -> None:
    with pytest.raises(BadCommand):
        parse_line("#channel web")


def test_labels_add_and_remove() -> None:
    command = parse_line("#label +vatten +Storgatan5 -akut hus/a")
    assert command.value == Labels(("vatten", "storgatan5", "hus/a"), ("akut",))
    assert parse_line("#etikett -x_y").value == Labels((), ("x_y",))


@pytest.mark.parametrize("line", ["#label", "#label +", "#label +a<b", "#label +" + "x" * 51])
def test_bad_labels_are_refused(line: str) -> None:
    with pytest.raises(BadCommand):
        parse_line(line)


@given(st.text(max_size=60))
def test_a_label_is_letters_digits_dash_underscore_slash(text: str) -> None:
    label = clean_label(text)
    if label is not None:
        assert label == label.casefold()
        assert all(c.isalnum() or c in "-_/" for c in label)


def test_type_watch_and_quiet() -> None:
    tagged = split_commands(
        "#kund eva@example.org\n#tyst\n#typ fel\n#bevaka\n#avbevaka lisa@bostad.example\nText"
    )
    assert [c.name for c in tagged.commands] == ["customer", "quiet", "type", "watch", "unwatch"]
    assert tagged.is_quiet
    assert tagged.customer == Customer("eva@example.org", "")
    assert [c.value for c in tagged.commands[2:]] == ["fel", "me", "lisa@bostad.example"]
    assert tagged.body == "Text"
    assert not split_commands("#note\nx").is_quiet


@pytest.mark.parametrize("name", ["customer", "channel", "quiet", "label", "type", "watch"])
def test_customers_and_contractors_get_none_of_them(name: str) -> None:
    line = {"customer": "#customer a@b.example", "channel": "#channel phone"}.get(name, f"#{name}")
    if name in ("label", "type"):
        line += " x"
    command = parse_line(line)
    assert refusal(command, Standing("customer", own_case=True)) is not None
    assert refusal(command, Standing("contractor", forwarded_to_them=True)) is not None
    assert refusal(command, Standing("staff")) is None


def test_mine_is_for_contractors_too() -> None:
    assert refusal(parse_line("#mina"), Standing("contractor")) is None
    assert any(line.startswith("#mina") for line in help_lines("contractor", "sv"))
    assert any(line.startswith("#kund <adress>") for line in help_lines("staff", "sv"))
