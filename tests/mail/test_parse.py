"""Unit tests for smartmail.mail.parse: raw bytes in, ParsedMail out, never an exception."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from mailparser_reply.constants import GENERIC_MAIL_SEPARATOR, MAIL_LANGUAGES

from smartmail.mail.parse import parse
from smartmail.mail.reply_text import REPLY_LANGUAGES

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def mail(body: bytes = b"Hej!\n", **headers: str | bytes) -> bytes:
    """A raw mail with CRLF line ends; header names from keywords (Content_Type -> Content-Type)."""
    lines = [
        name.replace("_", "-").encode() + b": " + (v if isinstance(v, bytes) else v.encode())
        for name, v in headers.items()
    ]
    return b"\r\n".join([*lines, b"", *body.split(b"\n")])


def multipart(*parts: bytes, subtype: str = "mixed", **headers: str) -> bytes:
    body = b"".join(b"--XyZ\n" + part + b"\n" for part in parts) + b"--XyZ--\n"
    return mail(body, **headers, Content_Type=f'multipart/{subtype}; boundary="XyZ"')


def test_utf8_encoded_word_subject() -> None:
    parsed = parse(mail(Subject="=?utf-8?Q?Stopp_i_avloppet_p=C3=A5_Storgatan?="))
    assert parsed.subject == "Stopp i avloppet på Storgatan"


def test_latin1_encoded_word_subject_is_unfolded() -> None:
    raw = mail(Subject="=?iso-8859-1?Q?Fr=E5ga_om?=\r\n =?iso-8859-1?Q?_r=E4kning?=\r\n   nr 5")
    assert parse(raw).subject == "Fråga om räkning nr 5"


def test_latin1_body() -> None:
    raw = mail(
        b"Hej, det \xe4r stopp i avloppet p\xe5 Storgatan 5\n",
        Content_Type="text/plain; charset=iso-8859-1",
        Content_Transfer_Encoding="8bit",
    )
    assert parse(raw).text == "Hej, det är stopp i avloppet på Storgatan 5"


def test_windows_1252_body_labelled_latin1() -> None:
    raw = mail(
        b"Pris =80 120 =96 =93snabbt=94 tack",
        Content_Type="text/plain; charset=iso-8859-1",
        Content_Transfer_Encoding="quoted-printable",
    )
    text = parse(raw).text
    assert text == "Pris \u20ac 120 \u2013 \u201csnabbt\u201d tack"
    assert not any("\x80" <= ch <= "\x9f" for ch in text)


def test_utf8_base64_body() -> None:
    msg = EmailMessage()
    msg["Subject"] = "Läckage"
    msg.set_content("Vattnet rinner från taket i köket.\n", charset="utf-8", cte="base64")
    assert parse(msg.as_bytes()).text == "Vattnet rinner från taket i köket."


def test_html_only_becomes_text() -> None:
    html = b"<html><body><p>Hej <b>Kalle</b>,</p><p>kranen&nbsp;droppar.</p></body></html>"
    parsed = parse(mail(html, Content_Type="text/html; charset=utf-8"))
    assert "Hej Kalle" in parsed.text
    assert "kranen" in parsed.text
    assert "droppar" in parsed.text
    assert "<" not in parsed.text
    assert parsed.html.startswith("<html>")


def test_alternative_prefers_plain() -> None:
    raw = multipart(
        b"Content-Type: text/plain; charset=utf-8\n\nPlain version\n",
        b"Content-Type: text/html; charset=utf-8\n\n<p>HTML version</p>\n",
        subtype="alternative",
    )
    parsed = parse(raw)
    assert parsed.text == "Plain version"
    assert "HTML version" in parsed.html
    assert parsed.content_type == "multipart/alternative"


def test_swedish_reply_without_quoted_history() -> None:
    body = (
        "Hej!\n\nDet läcker fortfarande under diskbänken.\n\nMvh Anna\n\n"
        "Den 3 nov. 2026 kl. 10:12 skrev Felanmälan <felanmalan@example.com>:\n"
        "> Hej Anna,\n> en rörmokare kommer på tisdag.\n"
    )
    parsed = parse(mail(body.encode(), Content_Type="text/plain; charset=utf-8"))
    assert parsed.reply_text == "Hej!\n\nDet läcker fortfarande under diskbänken."
    assert "rörmokare" in parsed.text


def test_english_reply_without_quoted_history() -> None:
    body = (
        b"Still broken, please send someone.\n\n"
        b"On Tue, Nov 3, 2026 at 10:12 AM Support <support@example.com> wrote:\n"
        b"> We have booked a plumber.\n"
    )
    assert parse(mail(body)).reply_text == "Still broken, please send someone."


def test_only_the_newest_reply_of_a_long_thread() -> None:
    older = "".join(
        f"Den {day} nov. 2026 kl. 09:00 skrev Felanmälan <felanmalan@example.com>:\n"
        f"> Svar nummer {day}.\n> #close\n\n"
        for day in range(1, 9)
    )
    body = f"Tack, nu fungerar det!\n\nMvh Anna\n\n{older}"
    parsed = parse(mail(body.encode(), Content_Type="text/plain; charset=utf-8"))
    assert parsed.reply_text == "Tack, nu fungerar det!"


def test_a_mail_that_starts_with_a_quote_header_keeps_its_text() -> None:
    body = (
        b"On Tue, Nov 3, 2026 at 10:12 AM Support <support@example.com> wrote:\n"
        b"> We have booked a plumber.\n\nThe plumber never came.\n"
    )
    assert parse(mail(body)).reply_text == "The plumber never came."


def test_every_quote_header_the_reply_parser_knows_has_a_colon_or_dashes() -> None:
    # What lets a text with neither skip the search for headers.
    patterns = [GENERIC_MAIL_SEPARATOR]
    for language in REPLY_LANGUAGES:
        for key in ("wrote_header", "from_header"):
            found = MAIL_LANGUAGES[language].get(key) or []
            patterns.extend([found] if isinstance(found, str) else found)
    dashes = ("-----", "-{5,}")
    assert all(":" in pattern or any(d in pattern for d in dashes) for pattern in patterns)


def test_reply_keeps_lists_and_words_that_start_like_sign_offs() -> None:
    body = "Hej!\n\nTaket läcker i trapphuset:\n- plan 2\n- plan 3\n\nHälsningar\nPer\n"
    reply = parse(mail(body.encode(), Content_Type="text/plain; charset=utf-8")).reply_text
    assert "Taket läcker i trapphuset" in reply
    assert "- plan 3" in reply


def test_rfc2231_filename() -> None:
    part = (
        b"Content-Type: application/pdf\n"
        b"Content-Disposition: attachment; filename*=utf-8''r%C3%A4kning.pdf\n"
        b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n"
    )
    (attachment,) = parse(multipart(b"Content-Type: text/plain\n\nSe bilaga.\n", part)).attachments
    assert attachment.filename == "räkning.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.payload == b"%PDF-1.4\n"


def test_encoded_word_filename() -> None:
    part = (
        b"Content-Type: application/pdf;\n"
        b' name="=?utf-8?Q?Faktura_f=C3=B6r_reparation.pdf?="\n'
        b"Content-Disposition: attachment;\n"
        b' filename="=?utf-8?Q?Faktura_f=C3=B6r_reparation.pdf?="\n\n%PDF\n'
    )
    (attachment,) = parse(multipart(part)).attachments
    assert attachment.filename == "Faktura för reparation.pdf"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\\\evil\\\\x.exe", "x.exe"),
        ("..", "attachment.bin"),
        (".hidden\x07file.txt", "hidden file.txt"),
    ],
)
def test_unsafe_filenames_are_made_safe(name: str, expected: str) -> None:
    part = (
        b"Content-Type: application/octet-stream\n"
        b'Content-Disposition: attachment; filename="' + name.encode() + b'"\n\nx\n'
    )
    (attachment,) = parse(multipart(part)).attachments
    assert attachment.filename == expected


def test_long_filename_keeps_extension() -> None:
    part = b'Content-Type: image/jpeg\nContent-Disposition: attachment; filename="' + b"a" * 400
    (attachment,) = parse(multipart(part + b'.jpg"\n\nx\n')).attachments
    assert len(attachment.filename) <= 150
    assert attachment.filename.endswith(".jpg")


def test_inline_image_with_content_id() -> None:
    part = b"Content-Type: image/png\nContent-ID: <bild1@example.com>\n\nPNG\n"
    (attachment,) = parse(multipart(b"Content-Type: text/html\n\n<img src=x>\n", part)).attachments
    assert attachment.content_id == "bild1@example.com"
    assert attachment.filename == "attachment.png"


def test_missing_message_id_is_generated_deterministically() -> None:
    first = parse(mail(b"Hej 1\n", Subject="Utan id"))
    assert first.message_id.endswith("@generated.smartmail>")
    assert first.message_id.startswith("<")
    assert parse(mail(b"Hej 1\n", Subject="Utan id")).message_id == first.message_id
    assert parse(mail(b"Hej 2\n", Subject="Utan id")).message_id != first.message_id
    assert parse(mail(Message_ID="")).message_id.endswith("@generated.smartmail>")


def test_message_id_kept() -> None:
    assert parse(mail(Message_ID=" <abc.123@example.com>")).message_id == "<abc.123@example.com>"


def test_first_of_two_subjects() -> None:
    raw = b"Subject: F\xf6rsta\r\nSubject: Andra\r\n\r\nx\r\n"
    parsed = parse(raw)
    assert parsed.subject == "Första"
    assert parsed.headers["subject"] == "Första"


def test_mailer_daemon_without_at() -> None:
    parsed = parse(mail(From="MAILER-DAEMON", Subject="Undelivered"))
    assert parsed.from_addr == ""
    assert parsed.from_name == "MAILER-DAEMON"


def test_addresses_decoded_and_lower_cased() -> None:
    raw = mail(
        From="=?iso-8859-1?Q?P=E4r_=C5berg?= <Par.Aberg@Example.COM>",
        To='Support <SUPPORT@example.com>, "Berg, Lisa" <lisa@example.se>',
        Cc="kalle@EXAMPLE.com",
        Reply_To="svar@example.com",
    )
    parsed = parse(raw)
    assert (parsed.from_addr, parsed.from_name) == ("par.aberg@example.com", "Pär Åberg")
    assert parsed.to == ("support@example.com", "lisa@example.se")
    assert parsed.cc == ("kalle@example.com",)
    assert parsed.reply_to == ("svar@example.com",)


def test_raw_8bit_display_name() -> None:
    parsed = parse(b"From: P\xe4r <par@example.com>\r\n\r\nx\r\n")
    assert parsed.from_name == "Pär"


def test_date_is_utc() -> None:
    parsed = parse(mail(Date="Tue, 3 Nov 2026 10:12:00 +0100"))
    assert parsed.date == datetime(2026, 11, 3, 9, 12, tzinfo=UTC)
    assert parse(mail(Date="inte ett datum")).date is None


def test_unknown_charset_does_not_raise() -> None:
    raw = mail(b"Hej \xe4 \x96 slut\n", Content_Type="text/plain; charset=x-unknown")
    parsed = parse(raw)
    assert parsed.text == "Hej ä \u2013 slut"
    assert any("x-unknown" in defect for defect in parsed.defects)


def test_text_its_charset_cannot_read_is_read_anyway_and_said_so() -> None:
    undeclared = parse(b"Subject: x\r\n\r\nHej \xe4\r\n")
    assert undeclared.text == "Hej ä"
    assert "8-bit text without its charset, read as cp1252" in undeclared.defects
    # seven bytes: not UTF-16, which reads two at a time
    mislabelled = parse(mail("Hej då".encode(), Content_Type="text/plain; charset=utf-16"))
    assert mislabelled.text == "Hej då"
    assert "text not valid utf-16, read as utf-8" in mislabelled.defects
    assert not parse(mail("Hej ä".encode(), Content_Type="text/plain; charset=utf-8")).defects


def test_nul_and_c1_controls_are_cleaned() -> None:
    raw = mail(
        b"x\x00y \xc2\x85 z\n",
        X_Note=b"a\x00b \x85 =?utf-8?Q?=C2=85?=",
        Content_Type="text/plain; charset=utf-8",
    )
    parsed = parse(raw)
    assert parsed.headers["x-note"] == "ab \u2026 \u2026"
    assert parsed.text == "xy \u2026 z"


def test_mangled_charset_in_header() -> None:
    assert parse(mail(Subject="=?iso-gb2312?Q?r=E4kning?=")).subject == "räkning"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe",
        random.Random(7).randbytes(3000),
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/pl",
        b"Content-Type: text/plain; charset=utf-16\r\n\r\n\xff",
    ],
    ids=["empty", "short-binary", "random-binary", "truncated-mime", "odd-utf16"],
)
def test_junk_does_not_raise(raw: bytes) -> None:
    parsed = parse(raw)
    assert parsed.message_id.endswith("@generated.smartmail>")
    assert parsed.content_type


def test_delivery_status_bounce() -> None:
    parsed = parse((FIXTURES / "bounce_delivery_status.eml").read_bytes())
    assert parsed.content_type == "multipart/report"
    assert parsed.from_addr == "mailer-daemon@mx.example.net"
    assert parsed.headers["auto-submitted"] == "auto-replied"
    assert "could not" in parsed.text


def test_headers_lower_cased_first_value() -> None:
    raw = mail(X_Loop="a", x_loop="b", Precedence="bulk", List_ID="<lista.example.com>")
    headers = parse(raw).headers
    assert headers["x-loop"] == "a"
    assert headers["precedence"] == "bulk"
    assert headers["list-id"] == "<lista.example.com>"


def test_in_reply_to_and_references() -> None:
    raw = mail(
        In_Reply_To="<c@example.com> (Annas meddelande)",
        References="<a@example.com>,\r\n <b@example.com>\r\n\t<c@example.com> d@example.com",
    )
    parsed = parse(raw)
    assert parsed.in_reply_to == ("<c@example.com>",)
    assert parsed.references == ("<a@example.com>", "<b@example.com>", "<c@example.com>")
    assert parse(mail(In_Reply_To="bare@example.com")).in_reply_to == ("<bare@example.com>",)


def test_forwarded_message_only() -> None:
    inner = (
        b"Content-Type: message/rfc822\n\n"
        b"From: Hyresgast <hyresgast@example.com>\nSubject: Trasig dorr\n\n"
        b"Porten till trapphuset gar inte att lasa.\n"
    )
    parsed = parse(multipart(inner, Subject="Fwd: Trasig dorr"))
    assert parsed.text == "Porten till trapphuset gar inte att lasa."
    (attachment,) = parsed.attachments
    assert attachment.filename == "forwarded.eml"
    assert attachment.content_type == "message/rfc822"
    assert b"Subject: Trasig dorr" in attachment.payload


def test_forwarded_message_does_not_replace_own_text() -> None:
    inner = b"Content-Type: message/rfc822\n\nSubject: Gammalt\n\nInre text\n"
    parsed = parse(multipart(b"Content-Type: text/plain\n\nSe nedan.\n", inner))
    assert parsed.text == "Se nedan."


def _explode(*_args: object, **_kwargs: object) -> None:
    raise AttributeError("boom")


def test_falls_back_to_stdlib_when_mailparser_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("smartmail.mail.parse._MailParser.parse", _explode)
    raw = mail(b"Hej \xe4\n", From="Anna <ANNA@example.com>", Subject="=?utf-8?Q?L=C3=A5s?=")
    parsed = parse(raw)
    assert (parsed.from_addr, parsed.subject, parsed.text) == ("anna@example.com", "Lås", "Hej ä")
    assert "mailparser failed: AttributeError" in parsed.defects


def test_minimal_result_when_every_parser_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("smartmail.mail.parse._MailParser.parse", _explode)
    monkeypatch.setattr("smartmail.mail.parse.email.message_from_bytes", _explode)
    monkeypatch.setattr("smartmail.mail.parse.email.parser.BytesParser.parsebytes", _explode)
    parsed = parse(b"Subject: x\r\n\r\nbody")
    assert parsed.message_id.endswith("@generated.smartmail>")
    assert parsed.content_type == "text/plain"
    assert len(parsed.defects) == 4
