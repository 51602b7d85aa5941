"""The steering step's gate: which mail is steering (commands or a staff answer), which not."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from smartmail.desk.commands import split_commands
from smartmail.mail.guard import GuardResult
from smartmail.mail.parse import parse
from smartmail.pipeline.steer import wants_steering
from smartmail.store.models import Case


def _mail(body: str, sender: str = "kalle@bostad.example"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "felanmalan@bostad.example", "Re: x"
    msg.set_content(body)
    return parse(msg.as_bytes())


PERSON = GuardResult(hits=(), may_open_case=True, may_answer=True, machine=False)
MACHINE = GuardResult(("auto_submitted",), may_open_case=True, may_answer=False, machine=True)


@pytest.mark.parametrize(
    ("body", "role", "on_case", "guard", "expected"),
    [
        ("#status klar", "staff", False, PERSON, True),
        ("Vi kommer imorgon.", "staff", True, PERSON, True),  # an answer on a case
        ("Vi kommer imorgon.", "staff", False, PERSON, False),  # nothing to answer
        ("#statsu klar", "staff", False, PERSON, True),  # a mistake is answered too
        ("#close", "customer", True, PERSON, True),
        ("#1 prio är vattnet", "customer", True, PERSON, False),  # their words, not commands
        ("Tack!", "customer", True, PERSON, False),
        ("#status klar", "staff", True, MACHINE, False),  # a machine never steers
    ],
)
def test_which_mail_is_steering(
    body: str, role: str, on_case: bool, guard: GuardResult, expected: bool
) -> None:
    mail = _mail(body)
    case = Case(number=1, subject="x") if on_case else None
    assert wants_steering(mail, guard, role, split_commands(mail.reply_text), case) is expected
