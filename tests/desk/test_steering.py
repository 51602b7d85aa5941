"""Commands in-process: the ones the e2e tests leave out, and their edges."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid

from sqlmodel import select

from smartmail.app import App
from smartmail.mail.tokens import reply_address, tokenized_subject
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.store.db import transaction
from smartmail.store.models import Case, Event, Message

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
DESK = "felanmalan@bostad.example"
EVA = "eva@kund.example"
KALLE = "kalle@bostad.example"


def mail(app: App, sender: str, body: str, number: int = 0, subject: str = "Hej") -> Outcome:
    msg = EmailMessage()
    secret = app.settings.secret
    msg["From"] = sender
    msg["To"] = reply_address(DESK, number, sender, secret) if sender != EVA or number else DESK
    msg["Subject"] = tokenized_subject(subject, number, secret) if number else subject
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content(body)
    return app.pipeline.process(msg.as_bytes(), Envelope("smtp", sender, (str(msg["To"]),)), NOW)


def case(app: App, number: int) -> Case:
    with transaction(app.engine) as session:
        found = session.get(Case, number)
        assert found is not None
        return found


def last_to(app: App, address: str) -> Message:
    with transaction(app.engine) as session:
        return session.exec(
            select(Message).where(Message.to_addrs == address).order_by(Message.id.desc())  # type: ignore[union-attr]
        ).first()


def test_category_merge_and_link(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp i avloppet")
    mail(app, EVA, "Samma stopp, igen.", subject="Avloppet igen")
    mail(app, EVA, "Dörren gnisslar.", subject="Dörr")
    mail(app, KALLE, "#merge 1", 2)
    mail(app, KALLE, "#link 1\n#category Övrigt", 3)
    assert (case(app, 2).status, case(app, 2).merged_into) == ("closed", 1)
    assert (case(app, 3).category, case(app, 3).priority) == ("Övrigt", "normal")
    reply = mail(app, EVA, "Hej igen om det andra stoppet", 2)
    assert reply.case_number == 1  # mail to a merged case goes where it was merged
    with transaction(app.engine) as session:
        kinds = session.exec(select(Event.kind).where(Event.case_id == 1)).all()
    assert {"merged_from", "linked"} <= set(kinds)


def test_customers_may_close_their_own_case_and_list_their_cases(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, "olle@kund.example", "Trasig dörr.", subject="Dörr")
    assert mail(app, EVA, "#mine", 1).kind == "reply"
    listing = last_to(app, EVA).text
    assert "#1 " in listing
    assert "#2 " not in listing
    mail(app, EVA, "#close\nTack, det löste sig.", 1)
    assert case(app, 1).status == "closed"
    mail(app, EVA, "#close", 2)  # somebody else's case
    assert case(app, 2).status != "closed"
    assert "du kan bara stänga ditt eget ärende" in last_to(app, EVA).text


def test_an_unknown_command_is_answered_with_what_is_allowed(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, EVA, "#assign me", 1)
    text = last_to(app, EVA).text
    assert "#assign är inget kommando för kunder" in text  # Eva reads Swedish
    assert "#stäng" in text
    assert "#vidarebefordra" not in text


def test_due_dates_and_help_by_mail(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#due 2026-11-27\n#help", 1)
    assert case(app, 1).due_at == datetime(
        2026, 11, 27, 15, tzinfo=UTC
    )  # closing time, local 16:00
    assert "#ärenden <nummer>" in last_to(app, KALLE).text


def outgoing_to(app: App, address: str) -> list[Message]:
    with transaction(app.engine) as session:
        query = select(Message).where(Message.to_addrs == address, Message.direction == "out")
        return list(session.exec(query).all())


def test_a_customer_mail_that_starts_with_a_hash_is_an_ordinary_case(app: App) -> None:
    outcome = mail(app, EVA, "# Felanmälan lgh 1203\nDet är stopp i avloppet.", subject="Stopp")
    assert (outcome.kind, outcome.case_number) == ("new_case", 1)
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack"]


def test_a_mistyped_note_never_reaches_the_customer(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#internal\nKunden verkar jobbig.", 1)
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack"]
    assert "skickades INTE till kunden" in last_to(app, KALLE).text


def test_after_a_merge_answers_go_to_both_customers(app: App) -> None:
    olle = "olle@kund.example"
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, olle, "Stopp i avloppet hos mig med.", subject="Stopp 2")
    mail(app, KALLE, "#merge 1", 2)
    mail(app, KALLE, "Vi rensar stammen i morgon.", 2)
    assert "Vi rensar stammen" in outgoing_to(app, olle)[-1].text
    assert "Vi rensar stammen" in outgoing_to(app, EVA)[-1].text
    mail(app, olle, "#mine", 1)
    assert "#1 " not in last_to(app, olle).text  # still Eva's case, not Olle's


def test_writing_on_a_case_does_not_make_a_contractor_its_contractor(app: App) -> None:
    ror = "jobb@rorab.example"
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, ror, "#status resolved", 1)
    assert case(app, 1).status != "resolved"
    assert "ärendet är inte skickat till er" in last_to(app, ror).text


def test_closed_case_tokens_cannot_be_used_to_flood_someone_with_acks(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#close", 1)
    for _ in range(12):
        mail(app, EVA, "Igen.", 1)
    assert len([m for m in outgoing_to(app, EVA) if m.template == "ack"]) == 10


def test_a_customer_closing_a_resolved_case_is_no_reopen(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#status resolved", 1)
    mail(app, EVA, "#close\nTack!", 1)
    assert (case(app, 1).status, case(app, 1).reopen_count) == ("closed", 0)


def test_commands_without_a_sender_are_stored_not_answered(app: App) -> None:
    msg = EmailMessage()
    msg["To"], msg["Subject"] = DESK, "Hej"
    msg.set_content("#mine")
    app.pipeline.process(msg.as_bytes(), Envelope("smtp", None, (DESK,)), NOW)
    with transaction(app.engine) as session:
        assert session.exec(select(Message).where(Message.to_addrs == "")).first() is None


def test_an_answer_with_an_attachment_is_kept_with_its_text(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    msg = EmailMessage()
    msg["From"] = KALLE
    msg["To"] = reply_address(DESK, 1, KALLE, app.settings.secret)
    msg["Subject"] = "Re: Stopp"
    msg.set_content("Här är offerten.")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="offert.pdf")
    app.pipeline.process(msg.as_bytes(), Envelope("smtp", KALLE, (str(msg["To"]),)), NOW)
    relayed = outgoing_to(app, EVA)[-1]
    assert relayed.template == "answer"
    assert "Här är offerten." in relayed.text
