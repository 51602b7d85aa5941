"""The threading step on its own: which case a mail belongs to, and the signal that said so."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid

from sqlmodel import select

from smartmail.app import App
from smartmail.desk import cases
from smartmail.mail.parse import parse
from smartmail.mail.tokens import reply_address, tokenized_subject
from smartmail.pipeline.envelope import Envelope
from smartmail.pipeline.thread import Thread, find_thread
from smartmail.store.db import load, transaction
from smartmail.store.models import Case, Message

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DESK = "felanmalan@bostad.example"
CUSTOMER = "eva@kund.example"
SECRET = b"test-secret"


def _raw(subject: str, sender: str = CUSTOMER, to: str = DESK, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain="kund.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Det är stopp i avloppet.")
    return msg.as_bytes()


def _open(app: App, sender: str = CUSTOMER) -> int:
    outcome = app.pipeline.process(_raw("Stopp i avloppet", sender), Envelope("smtp"), NOW)
    assert outcome.case_number is not None
    return outcome.case_number


def _thread(app: App, raw: bytes, envelope: Envelope | None = None) -> Thread:
    own = app.pipeline.function_addresses()
    with transaction(app.engine) as session:
        thread = find_thread(session, parse(raw), envelope or Envelope("smtp"), own, SECRET)
        session.expunge_all()
        return thread


def test_the_signed_reply_address_finds_the_case(app: App) -> None:
    number = _open(app)
    address = reply_address(DESK, number, CUSTOMER, SECRET)
    thread = _thread(app, _raw("Hej", to=address), Envelope("smtp", CUSTOMER, (address,)))
    assert thread.case is not None
    assert (thread.case.number, thread.signal) == (number, "reply_address")


def test_a_reply_address_made_for_someone_else_proves_nothing(app: App) -> None:
    number = _open(app)
    address = reply_address(DESK, number, "lisa@bostad.example", SECRET)
    thread = _thread(app, _raw("Hej", to=address))
    assert (thread.case, thread.signal) == (None, "new")


def test_the_signed_subject_token_finds_the_case(app: App) -> None:
    number = _open(app)
    thread = _thread(app, _raw("SV: " + tokenized_subject("Stopp", number, SECRET)))
    assert thread.case is not None
    assert (thread.case.number, thread.signal) == (number, "token")


def test_an_altered_token_is_ignored(app: App) -> None:
    number = _open(app)
    subject = tokenized_subject("Stopp", number, SECRET).replace(f"#{number}-", f"#{number + 1}-")
    assert _thread(app, _raw(subject)).signal == "new"


def _acknowledgement_id(app: App, number: int) -> str:
    with transaction(app.engine) as session:
        query = select(Message).where(Message.case_id == number, Message.direction == "out")
        ack = session.exec(query).first()
        assert ack is not None
        return ack.message_id


def test_references_find_the_case_of_a_party(app: App) -> None:
    number = _open(app)
    thread = _thread(app, _raw("Re: hej", In_Reply_To=_acknowledgement_id(app, number)))
    assert thread.case is not None
    assert (thread.case.number, thread.signal) == (number, "references")


def test_references_from_a_stranger_open_a_new_case_and_say_why(app: App) -> None:
    number = _open(app)
    raw = _raw("Re: hej", "mallory@evil.example", References=_acknowledgement_id(app, number))
    thread = _thread(app, raw)
    assert (thread.case, thread.signal) == (None, "new")
    assert thread.notes == (f"references case {number} but is no party to it",)


def test_mail_to_a_merged_case_goes_to_the_case_it_was_merged_into(app: App) -> None:
    first, second = _open(app), _open(app, "olle@kund.example")
    with transaction(app.engine) as session:
        merged, survivor = load(session, Case, id=first), load(session, Case, id=second)
        assert merged is not None
        assert survivor is not None
        cases.merge(session, merged, survivor, "kalle@bostad.example", NOW, None)
    thread = _thread(app, _raw(tokenized_subject("Stopp", first, SECRET)))
    assert thread.case is not None
    assert (thread.case.number, thread.signal) == (second, "token")
    assert thread.notes == (f"merged into case {second}",)
