"""Machines that look like people: senders, subject shapes, away notices, bounce bodies.

The error rates over the generated fixtures (tests/mail/machine_mails.py) are printed:
run with `-s` to see them.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartmail.mail import machine
from smartmail.mail.guard import GuardInput, run_guard
from smartmail.mail.parse import parse
from tests.mail.machine_mails import Sample, human_mails, machine_mails

OWN = frozenset({"felanmalan@bostad.example"})
NEW_CHECKS = {"machine_sender", "machine_subject", "bounce_body", "away_notice"}


def _guard(sample: Sample):
    mail = parse(sample.raw)
    return run_guard(GuardInput(mail, mail.from_addr, OWN, staff=sample.staff))


def test_no_machine_mail_is_answered_and_every_person_is() -> None:
    machines, people = machine_mails(), human_mails()
    assert len(machines) >= 200
    assert len(people) >= 200
    answered = [s.kind for s in machines if _guard(s).may_answer]
    unanswered = [(s.kind, _guard(s).hits) for s in people if not _guard(s).may_answer]
    print(
        f"\nmachine mail answered: {len(answered)}/{len(machines)} "
        f"({len(answered) / len(machines):.1%}); "
        f"human mail not answered: {len(unanswered)}/{len(people)} "
        f"({len(unanswered) / len(people):.1%})"
    )
    assert answered == []
    assert unanswered == []


def test_the_machines_are_told_by_the_new_signals_alone() -> None:
    """None of the fixtures carries a header the guard knew before: each is caught by what
    it says or who sends it (a mailer-daemon or postmaster sender is also a bounce)."""
    for sample in machine_mails():
        hits = set(_guard(sample).hits)
        assert hits & NEW_CHECKS, sample.kind
        assert hits <= NEW_CHECKS | {"bounce"}, (sample.kind, hits)


@pytest.mark.parametrize(
    ("address", "name", "pattern"),
    [
        ("mailer-daemon@mx.example", "", "mailer-daemon"),
        ("MAILER-DAEMON@mx.example", "", "mailer-daemon"),
        ("no-reply@bank.example", "", "no-reply"),
        ("No_Reply.Notifications@bank.example", "", "*noreply*"),
        ("do-not-reply@x.example", "", "do-not-reply"),
        ("nepasrepondre@x.example", "", "nepasrepondre"),
        ("grannar-request@lists.example", "", "*-request@"),
        ("grannar-bounces+eva=kund.example@lists.example", "", "*-bounces@"),
        ("owner-grannar@lists.example", "", "owner-*@"),
        ("bounce@mx.example", "Mail Delivery Subsystem", '"mail delivery subsystem"'),
        ("sms@x.example", "Symantec  Mail Security", '"symantec"'),
        ("eva@kund.example", "Eva Berg", ""),
        ("admin@kund.example", "", ""),  # a person may be the admin
        ("request@kund.example", "", ""),
        ("reply@kund.example", "Replying Person", ""),
    ],
)
def test_machine_senders(address: str, name: str, pattern: str) -> None:
    assert machine.machine_sender(address, name) == pattern


@pytest.mark.parametrize(
    ("subject", "machine_made"),
    [
        ("Undeliverable: Stopp i avloppet", True),
        ("[SPAM] Undeliverable: Stopp", True),
        ("Olevererbart: Stopp", True),
        ("Non remis : Stopp", True),
        ("Out of Office", True),
        ("Out of office (back 7 Dec)", True),
        ("Automatiskt svar: Stopp", True),
        ("AutoReply: Stopp", True),
        ("Delivery Status Notification (Failure)", True),
        ("Message could not be delivered", True),
        ("Your message to Grannar awaits moderator approval", True),
        ("Out of office next week, can you fix the tap before?", False),
        ("I will be out of office next week, can you fix the tap before?", False),
        ("Re: Automatic reply: Stopp", False),  # a person answering an auto-reply
        ("Frånvarande granne, det läcker", False),
        ("Automatisk dörröppnare trasig", False),
        ("Mail could not be delivered to my box, the lock is broken", False),
        ("Returned mail in my box", False),
        ("", False),
    ],
)
def test_subjects_count_by_their_shape(subject: str, machine_made: bool) -> None:
    assert bool(machine.machine_subject(subject)) is machine_made


@pytest.mark.parametrize(
    ("text", "away"),
    [
        ("Jag är på semester till och med 14 augusti och läser inte min e-post.", True),
        ("Hej,\nJag är för närvarande ledig. Vid brådskande ärenden ring växeln.", True),
        ("Thank you for your email. I am currently out of the office, no access to mail.", True),
        ("Jag är ledig imorgon men Lisa kommer kl 10 och lagar kranen.", False),
        ("I will be out of office next week; Lisa takes over your case.", False),
        ("Vi kommer på tisdag. Jag är på semester sen, kontakta Lisa.", False),  # not the opening
    ],
)
def test_away_notices_are_told_by_their_opening(text: str, away: bool) -> None:
    assert bool(machine.away_notice(text)) is away


def test_a_bounce_parser_finds_the_failed_address_in_a_plain_text_bounce() -> None:
    text = (
        "Hi. This is the qmail-send program at mx.kund.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<eva@kund.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n"
    )
    assert machine.bounce_body("it@kund.example", "Re: Stopp", text) == ("eva@kund.example",)
    person = "The delivery of the fridge failed: the driver said the address was unknown."
    assert machine.bounce_body("eva@kund.example", "Kylen", person) == ()


@given(st.text(max_size=300), st.text(max_size=60), st.text(max_size=60))
def test_the_patterns_take_any_text(text: str, subject: str, name: str) -> None:
    machine.machine_subject(subject)
    machine.machine_sender(name, name)
    machine.away_notice(text)
    machine.bounce_body(name, subject, text + " 550 5.1.1 recipient")
