"""What goes to the relay: names in any script encoded so a reader gets them back exactly;
an address that is not ASCII as UTF-8 (RFC 6532), never as an encoded word."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, message_from_string, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr

from hypothesis import given, settings
from hypothesis import strategies as st

from smartmail.mail.compose import Identity, Rendered, compose, wire_bytes
from smartmail.outbound.relay import needs_smtputf8

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DESK = "felanmalan@bostad.example"

NAMES = [
    "Bostadsbolaget Kundtjänst",
    "Служба поддержки",  # Cyrillic
    "خدمة العملاء",  # Arabic, right to left
    "客服中心",  # Chinese
    "カスタマーサポート",  # Japanese
    "고객 지원",  # Korean
    "ग्राहक सेवा",  # Devanagari
    'Bostad "Syd", AB',  # quotes and a comma
    "Kundtjänst 🏠",
]


def read(raw: bytes) -> EmailMessage:
    head = raw.split(b"\r\n\r\n", 1)[0]
    if head.isascii():
        return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]
    return message_from_string(raw.decode("utf-8"), policy=policy.default)  # type: ignore[return-value]


def display_name(raw: bytes) -> tuple[str, str]:
    """The From's name and address as an RFC 2047 reader (a mail client) reads them: the
    whitespace between two encoded words is no text. (The email package's address parser
    keeps it as a space: a long name, split into several words, would read wrong.)"""
    value = _raw_header(raw, "From")
    name, address = parseaddr(value)
    return str(make_header(decode_header(name))), address


def _raw_header(raw: bytes, header: str) -> str:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    unfolded = re.sub(r"\r\n(?=[ \t])", "", head)
    (value,) = [
        line.split(":", 1)[1] for line in unfolded.split("\r\n") if line.startswith(header + ":")
    ]
    return value.strip()


def composed(name: str, to: str) -> bytes:
    msg = compose(Identity(DESK, name), to=[to], rendered=Rendered("Ärende 1", "Hej!"), now=NOW)
    return wire_bytes(msg)


def test_display_names_in_every_script_come_back_exactly() -> None:
    for name in [*NAMES, "Bostad, Syd \u2013 Kundtjänst"]:
        raw = composed(name, "eva@kund.example")
        assert raw.isascii(), name  # encoded words: any relay takes them
        (sender,) = read(raw)["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (name, DESK)
        # in a mail that goes as UTF-8 too, where the name is not written out raw
        (sender,) = read(composed(name, "åsa@kund.example"))["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (name, DESK)


def test_an_address_that_is_not_ascii_goes_as_utf8_and_the_mail_needs_smtputf8() -> None:
    raw = composed("Kundtjänst", "åsa@kund.example")
    assert b"\r\nTo: \xc3\xa5sa@kund.example\r\n" in raw
    assert b"=?" not in raw.split(b"\r\nSubject:")[0].split(b"\r\nTo:")[1]
    assert needs_smtputf8(DESK, ["åsa@kund.example"], raw) == "the address åsa@kund.example"
    assert needs_smtputf8(DESK, ["eva@kund.example"], composed("Kundtjänst", "eva@x.se")) == ""
    (sender,) = read(raw)["From"].addresses
    assert sender.display_name == "Kundtjänst"


_LOCAL = st.text(
    alphabet=st.characters(categories=("Ll", "Lu", "Lo", "Nd")), min_size=1, max_size=12
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(
        alphabet=st.characters(categories=("L", "M", "N", "P", "S", "Zs")), max_size=40
    ).map(lambda text: " ".join(text.split())),
    local=_LOCAL,
)
def test_any_name_and_any_letters_in_an_address_reach_the_reader_intact(
    name: str, local: str
) -> None:
    to = f"{local}@kund.example"
    raw = composed(name, to)
    (recipient,) = read(raw)["To"].addresses
    assert display_name(raw) == (name, DESK)
    assert recipient.addr_spec == to
    assert bool(needs_smtputf8(DESK, [to], raw)) == (not to.isascii())
