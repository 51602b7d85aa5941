"""The sender of a broken From: the one address a reader sees, never an injected one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartmail.mail.addresses import addr_spec
from smartmail.mail.encoded_words import decode_value
from smartmail.mail.parse import parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
#: What a recovered address may look like: no quotes, commas, spaces or controls.
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
SAFE = re.compile(r"[^\s,;:\"<>()\[\]\\]+@[^\s,;:\"<>()\[\]\\@]+\.[^\s,;:\"<>()\[\]\\@]+")


def headers(*lines: str | bytes, body: bytes = b"Hej\r\n") -> bytes:
    encoded = [line if isinstance(line, bytes) else line.encode() for line in lines]
    return b"\r\n".join(encoded) + b"\r\n\r\n" + body


def sender(*lines: str | bytes, envelope: str | None = None) -> tuple[str, str]:
    parsed = parse(headers(*lines), envelope)
    return parsed.from_addr, parsed.from_name


@pytest.mark.parametrize(
    ("from_", "address", "name"),
    [
        ("Anna Berg <anna.berg@kund.example>", "anna.berg@kund.example", "Anna Berg"),
        # no angle brackets around the address after a name
        ("Anna Berg anna.berg@kund.example", "anna.berg@kund.example", "Anna Berg"),
        ('"Anna Berg" anna.berg@kund.example', "anna.berg@kund.example", "Anna Berg"),
        # a trailing dot
        ("anna.berg@kund.example.", "anna.berg@kund.example", ""),
        ("Anna Berg <anna.berg@kund.example.>", "anna.berg@kund.example", "Anna Berg"),
        # an unbalanced quote
        ('"Anna Berg <anna.berg@kund.example>', "anna.berg@kund.example", "Anna Berg"),
        ('"Berg, Anna <anna.berg@kund.example>', "anna.berg@kund.example", "Berg, Anna"),
        ('Anna Berg" <anna.berg@kund.example>', "anna.berg@kund.example", "Anna Berg"),
        # the address only in a comment
        ("Anna Berg (anna.berg@kund.example)", "anna.berg@kund.example", "Anna Berg"),
        ("(anna.berg@kund.example)", "anna.berg@kund.example", ""),
        # an encoded word around the whole address, or the whole From
        ("=?utf-8?Q?anna.berg@kund.example?=", "anna.berg@kund.example", ""),
        (
            "=?utf-8?B?QW5uYSBCZXJnIDxhbm5hLmJlcmdAa3VuZC5leGFtcGxlPg==?=",
            "anna.berg@kund.example",
            "Anna Berg",
        ),
        ("<mailto:anna.berg@kund.example>", "anna.berg@kund.example", ""),
        ("ANNA.Berg@Kund.Example", "anna.berg@kund.example", ""),
        # a quoted name is a name, whatever it holds
        ('"evil@evil.example" <anna@kund.example', "anna@kund.example", "evil@evil.example"),
    ],
)
def test_the_address_a_reader_sees_is_recovered(from_: str, address: str, name: str) -> None:
    assert sender(f"From: {from_}") == (address, name)


def test_two_from_lines_the_first_that_names_an_address() -> None:
    first = sender("From: Anna <anna@kund.example>", "From: Eve <eve@evil.example>")
    assert first == ("anna@kund.example", "Anna")
    parsed = parse(headers("From: Anna", "From: Anna Berg <anna.berg@kund.example>"))
    assert (parsed.from_addr, parsed.from_name) == ("anna.berg@kund.example", "Anna Berg")
    assert "sender: from line 2" in parsed.notes


def test_invalid_utf8_in_from_keeps_the_sender() -> None:
    assert sender(b"From: Anna \xff\xfe Berg <anna@kund.example>")[0] == "anna@kund.example"
    assert sender(b"From: \xc5sa \xd6berg <asa@kund.example>") == (
        "asa@kund.example",
        "Åsa Öberg",
    )
    assert sender("From: Åsa <åsa@kund.example>") == ("åsa@kund.example", "Åsa")


def test_a_name_holding_an_encoded_crlf_keeps_the_sender_and_one_line() -> None:
    assert sender("From: =?utf-8?Q?Anna=0D=0A?= <anna@kund.example>") == (
        "anna@kund.example",
        "Anna",
    )
    address, name = sender("From: =?utf-8?Q?Anna=0D=0ABcc:_evil@evil.example?= <anna@kund.example>")
    assert address == "anna@kund.example"
    assert "\r" not in name
    assert "\n" not in name


@pytest.mark.parametrize(
    "from_",
    [
        '"x,evil@evil.example,y"@kund.example',
        '"x,evil@evil.example,y@kund.example',
        '\\anna@kund.example"x,evil@evil.example,y"evil@evil.example',
        "anna@kund.example, evil@evil.example",  # several authors and no Sender
        "alice@kund.example)<evil@evil.example>",
        "Anna <anna@kund.example> <evil@evil.example>",
        "anna@kund.example\tevil@evil.example",
    ],
)
def test_a_from_that_could_mean_several_addresses_names_none(from_: str) -> None:
    address, _name = sender(f"From: {from_}")
    assert address == ""
    with_reply_to = parse(headers(f"From: {from_}", "Reply-To: anna@kund.example"))
    assert with_reply_to.from_addr == "anna@kund.example"
    assert "sender: reply-to" in with_reply_to.notes


@pytest.mark.parametrize(
    ("lines", "envelope", "address", "source"),
    [
        (["From: nobody", "Sender: Anna <anna@kund.example>"], None, "anna@kund.example", "sender"),
        (
            ["From: nobody", "Reply-To: svar@kund.example", "Return-Path: <rp@kund.example>"],
            None,
            "svar@kund.example",
            "reply-to",
        ),
        (
            ["From: nobody", "Return-Path: <rp@kund.example>"],
            None,
            "rp@kund.example",
            "return-path",
        ),
        (["From: nobody"], "env@kund.example", "env@kund.example", "envelope"),
        (["Subject: no From at all"], "env@kund.example", "env@kund.example", "envelope"),
        (["From: nobody", "Sender: x", "Return-Path: <>"], "", "", ""),
    ],
)
def test_fallbacks_in_order_and_which_is_recorded(
    lines: list[str], envelope: str | None, address: str, source: str
) -> None:
    parsed = parse(headers(*lines), envelope)
    assert parsed.from_addr == address
    assert [n for n in parsed.notes if n.startswith("sender:")] == (
        [f"sender: {source}"] if source else []
    )


def test_a_bare_mailer_daemon_keeps_being_a_mailer_daemon() -> None:
    with_id = sender("From: MAILER-DAEMON", "Message-ID: <1.2@mx.kund.example>")
    assert with_id == ("mailer-daemon@mx.kund.example", "MAILER-DAEMON")
    bracketed = sender(
        "From: Mail Delivery Subsystem <MAILER-DAEMON>", envelope="bounces@mx.kund.example"
    )
    assert bracketed == ("mailer-daemon@mx.kund.example", "Mail Delivery Subsystem")
    assert sender("From: MAILER-DAEMON") == ("", "MAILER-DAEMON")  # no domain anywhere


def test_a_mail_nested_too_deep_for_any_parser_keeps_its_sender_and_subject() -> None:
    depth = 1200
    parts = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(depth)
    )
    raw = headers(
        "From: Anna <anna@kund.example>",
        "Subject: Djup",
        "Content-Type: multipart/mixed; boundary=b0",
        body=parts + b"--b%d\r\n\r\nHej\r\n" % depth,
    )
    parsed = parse(raw)
    assert (parsed.from_addr, parsed.from_name, parsed.subject) == (
        "anna@kund.example",
        "Anna",
        "Djup",
    )
    assert "body not read" in parsed.defects


@pytest.mark.parametrize(
    ("name", "address", "from_name"),
    [
        ("from_without_brackets.eml", "anna.berg@kund.example", "Anna Berg"),
        ("from_unbalanced_quote.eml", "anna.berg@kund.example", "Berg, Anna"),
    ],
)
def test_fixtures(name: str, address: str, from_name: str) -> None:
    parsed = parse((FIXTURES / name).read_bytes())
    assert (parsed.from_addr, parsed.from_name) == (address, from_name)
    assert "sender: repaired" in parsed.notes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("anna@kund.example", "anna@kund.example"),
        (" Anna@Kund.Example. ", "anna@kund.example"),
        ("mailto:anna@kund.example", "anna@kund.example"),
        ("anna@kund", ""),
        ('"a,b"@kund.example', ""),
        ("a b@kund.example", ""),
        ("a@b@kund.example", ""),
        ("anna@kund.example\r\nBcc: x@y.example", ""),
        ("a..b@kund.example", ""),
        (".a@kund.example", ""),
        ("a@-kund.example", ""),
        ("a" * 250 + "@kund.example", ""),
        ("=?utf-8?q?=0d=0a?=@kund.example", ""),
    ],
)
def test_addr_spec(text: str, expected: str) -> None:
    assert addr_spec(text) == expected


ADDRESS_BITS = st.sampled_from(
    [
        "anna@kund.example",
        "evil@evil.example",
        '"x,evil@evil.example,y"',
        "@kund.example",
        "<",
        ">",
        '"',
        ",",
        "(",
        ")",
        ";",
        ":",
        "\\",
        " ",
        "\t",
        ".",
        "=?utf-8?Q?=0D=0A?=",
        "=?utf-8?B?ZXZpbEBldmlsLmV4YW1wbGU=?=",
        "Bcc:",
        "Anna",
        "\udcff",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ADDRESS_BITS, min_size=1, max_size=10), st.text(max_size=20))
def test_a_recovered_address_is_one_safe_addr_spec_the_header_names(
    bits: list[str], noise: str
) -> None:
    value = "".join(bits) + noise
    raw = b"From: " + value.encode("utf-8", "surrogateescape").replace(b"\r", b"").replace(
        b"\n", b""
    )
    parsed = parse(raw + b"\r\n\r\nHej\r\n")
    address = parsed.from_addr
    if address:
        assert SAFE.fullmatch(address), address
        # written outside quotes, raw or decoded: what a quote pair holds is never the address
        if value.isascii():  # else decoding the bytes as a whole reads them otherwise
            outside = [
                "".join(QUOTED.sub(" ", text).lower().split())
                for text in (value, decode_value(value))
            ]
            assert any(address in text for text in outside)
