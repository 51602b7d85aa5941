"""The reply text keeps the sender's first line (a greeting, a one-word answer) and no history."""

from __future__ import annotations

import pytest

from smartmail.mail.reply_text import latest_reply, only_forwards

QUOTE_HEADERS = {
    "gmail sv": (
        "Den tors 3 dec. 2026 kl 10:00 skrev Bostad <felanmalan@bostad.example>:\n> Ska vi komma?"
    ),
    "gmail en wrapped": (
        "On Thu, Dec 3, 2026 at 10:00 AM Bostad Felanmälan <\n"
        "felanmalan+12-abc@bostad.example> wrote:\n\n> Shall we come?"
    ),
    "outlook sv": (
        "________________________________\nFrån: Bostad <felanmalan@bostad.example>\n"
        "Skickat: den 3 december 2026 10:00\nTill: Anna\nÄmne: Läcka\n\nSka vi komma?"
    ),
    "outlook sv dashes": (
        "-----Ursprungligt meddelande-----\nFrån: Bostad <felanmalan@bostad.example>\n"
        "Skickat: den 3 december 2026 10:00\nÄmne: Läcka\n\nSka vi komma?"
    ),
    "outlook en": (
        "From: Bostad <felanmalan@bostad.example>\nSent: Thursday, December 3, 2026 10:00 AM\n"
        "To: Anna\nSubject: Leak\n\nShall we come?"
    ),
    "original message": "-----Original Message-----\nFrom: x\n\nShall we come?",
}

FIRST_LINES = {
    "JA": "JA",
    "Ja!": "Ja!",
    "Nej tack": "Nej tack",
    "Ok": "Ok",
    "Hej!\n\nDet läcker fortfarande under diskbänken.": (
        "Hej!\n\nDet läcker fortfarande under diskbänken."
    ),
    "Hej Kalle,\nDet läcker fortfarande.\nMvh\nAnna": "Hej Kalle,\nDet läcker fortfarande.",
    "Tack!\n\nMvh Anna": "Tack!",
    "Hallo,\n\nja, gerne.\n\nMit freundlichen Grüßen\nAnna": "Hallo,\n\nja, gerne.",
    "Best regards from the 3rd floor, the heating is off.": (
        "Best regards from the 3rd floor, the heating is off."
    ),
    "Hälsningar från Anna, kranen droppar igen.": "Hälsningar från Anna, kranen droppar igen.",
    "Till alla: vattnet stängs av.": "Till alla: vattnet stängs av.",
    "JA\n-- \nAnna Berg\nStorgatan 5": "JA",
}


@pytest.mark.parametrize("header", list(QUOTE_HEADERS))
@pytest.mark.parametrize("text", list(FIRST_LINES))
def test_the_first_line_is_kept_and_the_history_left_out(text: str, header: str) -> None:
    mail = f"{text}\n\n{QUOTE_HEADERS[header]}\n"
    assert latest_reply(mail) == FIRST_LINES[text]
    assert latest_reply(mail.replace("\n", "\r\n")) == FIRST_LINES[text]


def test_a_reply_without_history_is_itself() -> None:
    for text, expected in FIRST_LINES.items():
        assert latest_reply(text) == expected
        assert latest_reply("\n\n" + text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("\n \n", True),
        ("-- \nAnna Berg\n070-1234567", True),
        ("Skickat från min iPhone", True),
        ("JA", False),
        ("Se nedan.", False),
        ("---------- Forwarded message ---------\nFrom: x\n\ntext", True),
        ("Kolla detta!\n\n---------- Forwarded message ---------\nFrom: x\n\ntext", False),
    ],
)
def test_only_forwards(text: str, expected: bool) -> None:
    assert only_forwards(text) is expected


def test_a_forward_with_words_of_ones_own_keeps_them() -> None:
    text = (
        "Kan ni titta på det här?\n\n---------- Forwarded message ---------\n"
        "From: Granne <granne@kund.example>\nSubject: Fuktfläck\n\nDet har kommit en fuktfläck.\n"
    )
    assert latest_reply(text) == "Kan ni titta på det här?"
