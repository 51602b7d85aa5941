"""What steering says, and to whom: each in their language, saying what happened."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlmodel import select

from smartmail.app import App
from smartmail.mail.tokens import tokenized_subject
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Event, Message
from tests.conftest import TEST_RULES
from tests.desk.test_steering import DESK, EVA, KALLE, NOW, case, last_to, mail, outgoing_to
from tests.mail.test_phrases import foreign_words

LISA = "lisa@bostad.example"  # reads English; the office and Kalle read Swedish


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    lisa = "{email: lisa@bostad.example, name: Lisa Berg, role: staff}"
    assert lisa in TEST_RULES
    rules = TEST_RULES.replace(lisa, lisa[:-1] + ", language: en}")
    path.write_text(rules, encoding="utf-8")
    return path


def kinds(app: App, number: int) -> list[str]:
    with transaction(app.engine) as session:
        return list(session.exec(select(Event.kind).where(Event.case_id == number)).all())


def test_each_reader_gets_the_confirmation_in_their_language(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    commands = "#status feedback\n#time 30m\n#priority bråttom\n#mine\n#frobnicate"
    mail(app, KALLE, commands, 1)
    swedish = last_to(app, KALLE).text
    mail(app, LISA, commands, 1)
    english = last_to(app, LISA).text
    assert "ärende 1: ny status: återkoppling" in swedish
    assert "ärende 1: arbetstid 0 h 30 min loggad" in swedish
    assert "okänd prioritet" in swedish
    assert "okänt kommando #frobnicate" in swedish
    assert "#mina" in swedish
    assert "case 1: status feedback" in english
    assert "case 1: time 0h30m logged" in english
    assert "unknown command #frobnicate" in english
    assert foreign_words(swedish.replace("Stopp i avloppet", ""), "sv") == set()
    assert foreign_words(english.replace("Stopp i avloppet", ""), "en") == set()


def test_a_note_is_confirmed_as_saved(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#note\nKunden har haft stopp förut.", 1)
    confirmation = last_to(app, KALLE).text
    assert "sparades som intern anteckning" in confirmation
    assert "Inget ändrat" not in confirmation
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack"]


@pytest.mark.parametrize(
    "first", ["\u200b#note", "\ufeff#note", "\uff03note", "\ufeff\uff03intern", "#\u200dnote"]
)
def test_a_note_behind_invisible_or_full_width_signs_stays_internal(app: App, first: str) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, f"{first}\nKunden verkar jobbig.", 1)
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack"]
    with transaction(app.engine) as session:
        note = session.exec(select(Message).where(Message.text == "Kunden verkar jobbig.")).one()
    assert note.visibility == "internal"


def test_what_only_looks_like_a_command_is_held_until_send(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "\uff03 notera\nVi kommer i morgon kl 9.", 1)
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack"]
    held = last_to(app, KALLE).text
    assert "skickades INTE till kunden" in held
    assert "#sänd" in held
    assert "answer_held" in kinds(app, 1)

    mail(app, KALLE, "#sänd", 1)
    sent = outgoing_to(app, EVA)[-1]
    assert sent.template == "answer"
    assert "Vi kommer i morgon kl 9." in sent.text
    assert "notera" in sent.text  # as written: the line that was no command is text
    assert "ditt svar skickades till kunden" in last_to(app, KALLE).text
    assert case(app, 1).first_response_at is not None

    mail(app, KALLE, "#send", 1)  # nothing is held any more
    assert len(outgoing_to(app, EVA)) == 2
    assert "ingen text från dig hålls kvar" in last_to(app, KALLE).text


def test_send_for_several_cases_sends_each_text_to_its_own_customer(app: App) -> None:
    olle = "olle@kund.example"
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, olle, "Dörren gnisslar.", subject="Dörr")
    mail(app, KALLE, "#nto\nVi smörjer dörren i morgon.", 2)
    mail(app, KALLE, "#cases 1 2\n#send", 1)
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack"]
    assert "Vi smörjer dörren" in outgoing_to(app, olle)[-1].text
    confirmation = last_to(app, KALLE).text
    assert "ärende 1: #send: ingen text från dig hålls kvar i ärendet" in confirmation
    assert "ärende 2: ditt svar skickades till kunden" in confirmation


def test_send_lets_go_only_the_senders_own_held_text(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#nto\nKunden verkar jobbig.", 1)
    mail(app, LISA, "#send", 1)
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack"]
    assert "nothing of yours is held back" in last_to(app, LISA).text


def test_a_resolving_answer_is_one_mail_with_the_notice_in_it(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#status löst\nVi har rensat stammen.", 1)
    sent = outgoing_to(app, EVA)
    assert [m.template for m in sent] == ["ack", "answer"]
    assert "Vi har rensat stammen." in sent[-1].text
    assert "som åtgärdat" in sent[-1].text
    assert sent[-1].text.index("rensat stammen") < sent[-1].text.index("som åtgärdat")
    assert case(app, 1).status == "resolved"


def test_a_closing_answer_says_the_case_is_closed(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#stäng\nTack för i dag.", 1)
    sent = outgoing_to(app, EVA)
    assert [m.template for m in sent] == ["ack", "answer"]
    assert "är nu avslutat" in sent[-1].text


def test_resolving_without_an_answer_still_tells_the_customer(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#status resolved", 1)
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack", "resolved"]


def test_a_held_answer_does_not_swallow_the_resolved_notice(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#status resolved\n#nto\nKlart!", 1)
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack", "resolved"]
    assert "Klart!" not in outgoing_to(app, EVA)[-1].text


def test_an_unproven_answer_says_it_was_not_sent(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    forged = EmailMessage()  # to the plain function address: no reply address of ours
    forged["From"], forged["To"] = KALLE, DESK
    forged["Subject"] = "Re: " + tokenized_subject("Stopp", 1, app.settings.secret)
    forged["Message-ID"] = make_msgid(domain="example.org")
    forged.set_content("Vi kommer i morgon.")
    outcome = app.pipeline.process(forged.as_bytes(), Envelope("smtp", KALLE, (DESK,)), NOW)
    assert (outcome.kind, outcome.case_number) == ("reply", 1)
    notice = last_to(app, KALLE)
    assert notice.template == "unproven"
    assert "skickades INTE" in notice.text
    assert "innehöll kommandon" not in notice.text
    assert [m.template for m in outgoing_to(app, EVA)] == ["ack"]


def test_the_timeline_names_events_in_the_readers_language(app: App) -> None:
    mail(app, EVA, "Stopp i avloppet.", subject="Stopp")
    mail(app, KALLE, "#status feedback", 1)
    mail(app, KALLE, "#case 1", 1)
    timeline = last_to(app, KALLE).text
    assert "ny status återkoppling" in timeline.replace(":", "").replace(",", "") or (
        "återkoppling" in timeline
    )
    assert "tilldelad" in timeline
    assert " CET " in timeline
    assert foreign_words(timeline.replace("Stopp i avloppet", ""), "sv") == set()
