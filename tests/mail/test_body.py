"""Which part is the text: a stub plain part gives way to the HTML, a forward to its mail."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartmail.mail.body import is_stub
from smartmail.mail.parse import parse
from tests.mail.test_parse import multipart

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"

HTML_TEXT = (
    "Hej! Det luktar bränt från elcentralen i källaren sedan i morse. Kan någon komma och "
    "titta på det idag? Jag är hemma hela dagen. Mvh Per"
)
HTML = f"<html><body><p>{HTML_TEXT}</p></body></html>"


def alternative(plain: str, html: str = HTML) -> bytes:
    return multipart(
        b"Content-Type: text/plain; charset=utf-8\n\n" + plain.encode(),
        b"Content-Type: text/html; charset=utf-8\n\n" + html.encode(),
        subtype="alternative",
        From="per@kund.example",
    )


@pytest.mark.parametrize(
    "stub",
    [
        "This message is in HTML. View it in your browser.",
        "Your mail program does not support HTML.",
        "Detta meddelande är i HTML-format. Öppna det i din webbläsare.",
        "Diese E-Mail ist im HTML-Format.",
        "https://mail.kund.example/view/123",
        "<https://mail.kund.example/view/123>",
        "",
        "  \n ",
        "Hej!",  # far shorter than the HTML's text
    ],
)
def test_a_stub_plain_part_gives_way_to_the_html(stub: str) -> None:
    parsed = parse(alternative(stub))
    assert parsed.text == HTML_TEXT
    if stub.strip():
        assert "text: the HTML part's (the plain part is a stub)" in parsed.notes


@pytest.mark.parametrize(
    "plain",
    [
        HTML_TEXT,  # the same text: the plain part is its version
        "Hej! Det luktar bränt från elcentralen. Kan någon komma idag? Mvh Per",
        "JA",  # a one-word answer whose HTML says no more
    ],
)
def test_a_plain_part_that_is_the_text_is_kept(plain: str) -> None:
    html = HTML if plain != "JA" else "<div dir='ltr'>JA</div>"
    parsed = parse(alternative(plain, html))
    assert parsed.text == plain
    assert not parsed.notes


def test_is_stub_measures_words_not_markup() -> None:
    assert not is_stub("Tack, det fungerar nu!", "Tack, det fungerar nu!")
    assert not is_stub("a b c d e", "a b c d e f")  # a word more is no stub
    assert is_stub("Se länk: https://x.example/a", " ".join(["ord"] * 50))


def test_the_stub_fixture() -> None:
    parsed = parse((FIXTURES / "html_with_stub_plain.eml").read_bytes())
    assert parsed.text.startswith("Hej!")
    assert "elcentralen i källaren" in parsed.reply_text


def test_a_mail_that_only_forwards_an_attached_one_has_its_text() -> None:
    parsed = parse((FIXTURES / "forward_attached_only.eml").read_bytes())
    assert "Det har kommit en fuktfläck i taket i badrummet." in parsed.text
    assert parsed.reply_text == "Det har kommit en fuktfläck i taket i badrummet."
    assert "text: the forwarded mail's (nothing of its own)" in parsed.notes
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]


def test_own_words_above_an_attached_forward_stay_the_reply() -> None:
    inner = b"Content-Type: message/rfc822\n\nSubject: Gammalt\n\nInre text\n"
    parsed = parse(multipart(b"Content-Type: text/plain\n\nKan ni titta pa detta?\n", inner))
    assert parsed.text == "Kan ni titta pa detta?"
    assert parsed.reply_text == "Kan ni titta pa detta?"


INLINE_FORWARDS = {
    "gmail": (
        "---------- Forwarded message ---------\nFrom: Granne <granne@kund.example>\n"
        "Date: Thu, Dec 3, 2026 at 9:00\nSubject: Fuktfläck\nTo: <kalle@kund.example>\n\n"
    ),
    "apple sv": (
        "Skickat från min iPhone\n\nBörjan av vidarebefordrat brev:\n\n"
        "> Från: Granne <granne@kund.example>\n> Ämne: Fuktfläck\n>\n> "
    ),
    "outlook sv": (
        "\n\n-----Ursprungligt meddelande-----\nFrån: Granne <granne@kund.example>\n"
        "Skickat: den 3 december 2026 09:00\nTill: Kalle\nÄmne: Fuktfläck\n\n"
    ),
    "thunderbird": (
        "\n\n-------- Forwarded Message --------\nSubject: Fuktfläck\nDate: Thu, 3 Dec 2026\n"
        "From: Granne <granne@kund.example>\n\n"
    ),
}


@pytest.mark.parametrize("client", list(INLINE_FORWARDS))
def test_an_inline_forward_with_nothing_of_ones_own_has_the_forwarded_text(client: str) -> None:
    body = INLINE_FORWARDS[client] + "Det har kommit en fuktfläck i taket i badrummet.\n"
    parsed = parse(
        b"From: kalle@kund.example\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + body.encode()
    )
    assert parsed.reply_text == "Det har kommit en fuktfläck i taket i badrummet."
