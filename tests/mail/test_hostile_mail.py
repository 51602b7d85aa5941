"""What a sender writes never becomes a header, a recipient or a body of ours.

Hostile mail goes in over SMTP to the listener; the sink, our relay, checks the bytes on
the wire of everything we send because of it.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from smartmail.mail import msgid
from smartmail.store.db import transaction
from smartmail.store.models import Case, Outbox, Party
from tests.mail.conftest import DESK, Desk, read

EVA = "eva@kund.example"
OURS = {"kalle@bostad.example", "lisa@bostad.example", "anna@bostad.example"}
# What our acknowledgement's header holds, in this order: nothing else.
ACK_FIELDS = [
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "in-reply-to",
    "references",
    "auto-submitted",
    "x-auto-response-suppress",
    "x-smartmail-loop",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
]
PHISH = "Klicka=20h=C3=A4r"  # "Klicka här", the start of a body of the sender's choice


def raw(*header_lines: str, sender: str = EVA, body: str = "Det är stopp i avloppet.") -> bytes:
    head = [f"From: {sender}", f"To: {DESK}", "Subject: Stopp i avloppet", *header_lines]
    return ("\r\n".join([*head, "", body, ""])).encode()


def field_names(data: bytes) -> list[str]:
    """The header fields on the wire, by name, as a reader splits them."""
    head = data.partition(b"\r\n\r\n")[0]
    return [
        line.partition(b":")[0].decode().lower()
        for line in head.split(b"\r\n")
        if line[:1] not in (b" ", b"\t")
    ]


def assert_clean_wire(data: bytes) -> None:
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert b"\n" not in data.replace(b"\r\n", b"")
    head = data.partition(b"\r\n\r\n")[0]
    assert b"x-evil" not in head.lower()
    assert all(line.strip() for line in head.split(b"\r\n"))
    assert "Klicka här" not in read(data).get_content()


HOSTILE_IDS = {
    "encoded CR LF": "<=?utf-8?q?a=0D=0AX-Evil:_1?=@kund.example>",
    "encoded CR LF, no colon": "<=?utf-8?q?a=0D=0A?=@kund.example>",
    "encoded CR LF CR LF": f"<=?utf-8?q?b=0D=0A=0D=0A{PHISH}?=@kund.example>",
    "base64 CR LF CR LF": "<=?utf-8?b?eA0KDQpLbGlja2EgaMOkcg==?=@kund.example>",
    "folded in": "<a@kund.example\r\n X-Evil: 1>",
    "angle brackets in brackets": "<<x@kund.example>\r\n\tX-Evil:<y@kund.example>>",
}


@pytest.mark.parametrize("name", HOSTILE_IDS)
@pytest.mark.parametrize("header", ["Message-ID", "References", "In-Reply-To"])
def test_hostile_ids_are_dropped_not_copied(desk: Desk, header: str, name: str) -> None:
    hostile = HOSTILE_IDS[name]
    lines = [f"{header}: {hostile}"]
    if header != "Message-ID":
        lines.append("Message-ID: <ok.1@kund.example>")
    desk.send(raw(*lines), EVA)

    (ack,) = desk.sink.raw_to(EVA)
    assert_clean_wire(ack)
    names = field_names(ack)
    assert names == [n for n in ACK_FIELDS if n in names]  # nothing added, nothing repeated
    got = read(ack)
    for value in (got["In-Reply-To"], got["References"]):
        for mid in str(value or "").split():
            assert msgid.clean_id(mid) == mid
    if header != "Message-ID":  # the sender's own valid id still threads our answer
        assert got["In-Reply-To"] == "<ok.1@kund.example>"
    (notice,) = desk.sink.raw_to("kalle@bostad.example")
    assert_clean_wire(notice)
    recipients = {rcpt for rcpts, _data in desk.sink.wire for rcpt in rcpts}
    assert recipients == {EVA, "kalle@bostad.example"}


HOSTILE_SENDERS = {
    "commas in a quoted local part": '"x,evil@evil.example,y"@kund.example',
    "an address in a quoted local part": '"evil@evil.example"@kund.example',
    "a quoted comma and a quote": '"x\\",evil@evil.example"@kund.example',
    "a list in a quoted local part": '"a@evil.example, b@evil.example"@kund.example',
}


@pytest.mark.parametrize("name", HOSTILE_SENDERS)
def test_a_quoted_local_part_gets_no_mail_and_nobody_else_gets_it(desk: Desk, name: str) -> None:
    """The From is no address a reader could mail: the sender is the envelope's (one checked
    address, see mail/addresses.py), and nobody named inside the quotes gets anything."""
    sender = HOSTILE_SENDERS[name]
    envelope = "bounce@kund.example"
    desk.send(raw("Message-ID: <q.1@kund.example>", sender=sender), envelope)

    for rcpts, data in desk.sink.wire:
        assert set(rcpts) <= {*OURS, envelope}, rcpts
        assert_clean_wire(data)
        assert b"evil" not in data.partition(b"\r\n\r\n")[0]
    assert desk.sink.raw_to("kalle@bostad.example")
    with transaction(desk.app.engine) as session:
        queued = session.exec(select(Outbox.rcpt_to)).all()
        case = session.exec(select(Case)).one()
        customer = session.get(Party, case.customer_id)
    assert customer is not None
    assert customer.email == envelope
    assert sorted(queued) == sorted([envelope, "kalle@bostad.example"])


def test_a_second_address_in_from_gets_nothing(desk: Desk) -> None:
    desk.send(raw("Message-ID: <two.1@kund.example>", sender=f"{EVA}, evil@evil.example"), EVA)
    recipients = {rcpt for rcpts, _data in desk.sink.wire for rcpt in rcpts}
    assert recipients == {EVA, "kalle@bostad.example"}
