"""`#reply` (`#svar`) by mail: a staff member answers the owner's notice over SMTP with a
canned answer's name; the customer gets the rendered answer and the staff member's text,
over SMTP to the sink. Whatever the customer wrote in their name stays in the text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from smartmail.mail import compose
from smartmail.mail.compose import Identity, Rendered
from smartmail.rules.load import rules_from_text
from smartmail.store.db import transaction
from smartmail.store.models import Case, Event, Message
from tests.conftest import TEST_RULES
from tests.mail.conftest import DESK, Desk, read
from tests.mail.test_hostile_mail import ACK_FIELDS, assert_clean_wire, field_names

EVA = "eva@kund.example"
KALLE = "kalle@bostad.example"
REPLIES = """\
replies:
  nyckel:
    sv: |
      Hej {{ customer_name }}!
      Nya nycklar till ärende {{ number }} är klara senast {{ deadline }} hos {{ owner_name }}.
    en: "Hello {{ customer_name }}, keys for case {{ number }}."
  tack: "Tack för ditt meddelande."
"""


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(TEST_RULES + REPLIES, encoding="utf-8")
    return path


def mail(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"], msg["Subject"] = to, subject
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg.set_content(body)
    return msg


def content(msg: EmailMessage) -> str:
    return str(msg.get_content()).replace("\r\n", "\n")


def open_case(desk: Desk, name: str = "Eva Lind") -> EmailMessage:
    """Eva's mail opens case 1 (her name as written in From, raw); gives the notice its
    owner, Kalle, got."""
    raw = (
        f"From: {name} <{EVA}>\r\nTo: {DESK}\r\nSubject: Stopp i avloppet\r\n"
        f"Message-ID: {make_msgid(domain='kund.example')}\r\n\r\nDet är stopp i köket.\r\n"
    )
    desk.send(raw.encode(), EVA)
    (notice,) = [read(data) for data in desk.sink.raw_to(KALLE)]
    return notice


def answer(desk: Desk, notice: EmailMessage, body: str) -> None:
    own = str(notice["Reply-To"])
    desk.send(mail(KALLE, own, f"Re: {notice['Subject']}", body).as_bytes(), KALLE)


def test_a_canned_answer_goes_to_the_customer_with_the_text_below_it(desk: Desk) -> None:
    notice = open_case(desk)
    answer(desk, notice, "#svar Nyckel\n\nRing mig om det brådskar. /Kalle\n")

    _ack, sent = (read(data) for data in desk.sink.raw_to(EVA))
    text = content(sent)
    with transaction(desk.app.engine) as session:
        case = session.get(Case, 1)
        assert case is not None
        assert case.due_at is not None
        assert case.first_response_at is not None
        events = session.exec(select(Event).where(Event.kind == "canned_answer")).all()
    assert text.startswith("Hej Eva Lind!\nNya nycklar till ärende 1 är klara senast 2026-")
    assert "hos Kalle Karlsson.\n\nRing mig om det brådskar. /Kalle\n" in text
    assert "[#1-" in str(sent["Subject"])
    assert [(e.actor, json.loads(e.detail)) for e in events] == [(KALLE, {"name": "nyckel"})]
    confirmation = str(read(desk.sink.raw_to(KALLE)[-1]).get_content())
    assert "det färdiga svaret nyckel går till kunden" in confirmation


def test_a_canned_answer_alone_is_sent_too(desk: Desk) -> None:
    notice = open_case(desk)
    answer(desk, notice, "#reply tack\n")
    sent = read(desk.sink.raw_to(EVA)[-1])
    assert content(sent).startswith("Tack för ditt meddelande.\n\n--\nKalle Karlsson\n")


def test_an_unknown_name_is_answered_with_the_names_and_nothing_goes_out(desk: Desk) -> None:
    notice = open_case(desk)
    answer(desk, notice, "#svar nycklar\n\nHej Eva, här kommer svaret.\n")
    assert len(desk.sink.raw_to(EVA)) == 1  # the acknowledgement only
    confirmation = str(read(desk.sink.raw_to(KALLE)[-1]).get_content())
    assert "inget färdigt svar heter nycklar; de som finns: nyckel, tack." in confirmation
    assert "Din text skickades INTE till kunden" in confirmation
    with transaction(desk.app.engine) as session:
        kept = session.exec(select(Message).where(Message.from_addr == KALLE)).one()
    assert kept.visibility == "internal"


def test_customers_may_not_send_canned_answers(desk: Desk) -> None:
    open_case(desk)
    ack = read(desk.sink.raw_to(EVA)[0])
    desk.send(mail(EVA, str(ack["Reply-To"]), "Re: x", "#svar tack\n").as_bytes(), EVA)
    told = str(read(desk.sink.raw_to(EVA)[-1]).get_content())
    assert "#reply är inget kommando för kunder" in told


def test_a_hostile_name_stays_in_the_text(desk: Desk) -> None:
    hostile = "=?utf-8?q?Eva=0D=0ABcc:_evil@evil.example=0D=0A=0D=0AKlicka?="
    notice = open_case(desk, name=hostile)
    answer(desk, notice, "#svar nyckel\n")
    for rcpts, data in desk.sink.wire:
        assert set(rcpts) <= {EVA, KALLE, "lisa@bostad.example"}, rcpts
        assert_clean_wire(data)
    sent = desk.sink.raw_to(EVA)[-1]
    assert field_names(sent) == [n for n in ACK_FIELDS if n in field_names(sent)]
    first = content(read(sent)).splitlines()[0]
    assert first.startswith("Hej Eva Bcc: evil@evil.example")


RULES = rules_from_text(TEST_RULES + REPLIES, "rules.yaml")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200), st.text(max_size=100))
def test_any_name_and_subject_make_a_mail_whose_header_is_ours(name: str, subject: str) -> None:
    replies = RULES.replies
    reply = replies.find("nyckel")
    assert reply is not None
    values = {"number": 7, "customer_name": name, "deadline": "-", "owner_name": name}
    text = replies.render(reply, "sv", values)
    assert (
        text.splitlines()[0]
        == f"Hej {' '.join(''.join(c if c.isprintable() else ' ' for c in name).split())[:200]}!"
    )
    msg = compose.compose(
        Identity(DESK, "Bostad AB"),
        to=[EVA],
        rendered=Rendered(subject, text),
        now=datetime(2026, 11, 23, 9, tzinfo=UTC),
        auto_submitted=None,
    )
    data = compose.checked_wire(msg)
    assert field_names(data) == [
        "from", "to", "subject", "date", "message-id", "x-smartmail-loop",
        "content-type", "content-transfer-encoding", "mime-version",
    ]  # fmt: skip
    assert read(data).get_content().replace("\r\n", "\n") == text + "\n"
