"""The return path of each mail we send: signed, bound to that mail, hard to forge."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartmail.mail.tokens import (
    base_address,
    bounce_address,
    parse_bounce_address,
    parse_reply_address,
    reply_address,
)

SECRET = b"unit-secret"
DESK = "felanmalan@bostad.example"


def test_a_bounce_address_names_its_mail_and_verifies() -> None:
    address = bounce_address(DESK, 4711, SECRET)
    assert address.startswith("felanmalan+b-4711-")
    assert address.endswith("@bostad.example")
    parsed = parse_bounce_address(address)
    assert parsed is not None
    assert (parsed.base, parsed.number) == (DESK, 4711)
    assert parsed.genuine(SECRET)
    assert base_address(address) == DESK  # the listener takes it like a reply address


@pytest.mark.parametrize(
    "mangle",
    [
        str.upper,  # a server that upper-cases local parts
        lambda a: f"<{a}>",  # as an envelope writes it
        lambda a: f" {a} ",
    ],
)
def test_it_survives_what_servers_do_to_it(mangle) -> None:
    parsed = parse_bounce_address(mangle(bounce_address(DESK, 12, SECRET)))
    assert parsed is not None
    assert parsed.number == 12
    assert parsed.genuine(SECRET)


def test_another_number_or_secret_is_not_genuine() -> None:
    address = bounce_address(DESK, 12, SECRET)
    signature = address.split("-")[-1].split("@")[0]
    forged = parse_bounce_address(f"felanmalan+b-13-{signature}@bostad.example")
    assert forged is not None
    assert not forged.genuine(SECRET)
    parsed = parse_bounce_address(address)
    assert parsed is not None
    assert not parsed.genuine(b"another-secret")


def test_reply_and_bounce_addresses_are_never_taken_for_each_other() -> None:
    reply = reply_address(DESK, 12, "eva@kund.example", SECRET)
    bounce = bounce_address(DESK, 12, SECRET)
    assert parse_bounce_address(reply) is None
    assert parse_reply_address(bounce) is None


def test_the_function_address_detail_is_not_kept() -> None:
    assert bounce_address("Felanmalan+x@Bostad.Example", 3, SECRET).startswith("felanmalan+b-3-")


@pytest.mark.parametrize(
    "address",
    [
        DESK,
        "felanmalan+b-@bostad.example",
        "felanmalan+b-12@bostad.example",
        "felanmalan+b-12-short@bostad.example",
        "felanmalan+b-12-abcdefghij",
        "felanmalan+b-x-abcdefghij@bostad.example",
        "felanmalan+b-12-abcdefgh01@bostad.example",  # 0 and 1 are not base32
        "",
    ],
)
def test_other_shapes_are_no_bounce_address(address: str) -> None:
    assert parse_bounce_address(address) is None


@given(st.integers(min_value=1, max_value=10**12 - 1))
def test_every_mail_number_round_trips(number: int) -> None:
    parsed = parse_bounce_address(bounce_address(DESK, number, SECRET))
    assert parsed is not None
    assert parsed.number == number
    assert parsed.genuine(SECRET)


@given(st.text(max_size=60))
def test_any_text_is_no_genuine_bounce_address(text: str) -> None:
    parsed = parse_bounce_address(text)
    assert parsed is None or not parsed.genuine(SECRET)
