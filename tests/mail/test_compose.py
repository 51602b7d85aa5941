"""compose.compose: the wire it makes, read back, says what the policy.default way said."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.charset import BASE64, Charset
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

import pytest

from smartmail.mail import compose
from smartmail.mail.guard import LOOP_HEADER

NOW = datetime(2024, 5, 6, 9, 30, tzinfo=timezone(timedelta(hours=2)))
SWEDE = compose.Identity("felanmalan@bostad.example", "Bostäder i Ålund AB")
PLAIN = compose.Identity("felanmalan@bostad.example")
REFS = [f"<r{i}.{'y' * (i % 30)}@mail.example.com>" for i in range(30)]
QUEUE_READS = ("To", "From", "Subject", "Auto-Submitted")  # what queue() stores, besides the text


def reference(
    identity: compose.Identity,
    *,
    to: list[str],
    rendered: compose.Rendered,
    now: datetime,
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    reply_to: str | None = None,
    auto_submitted: str | None = "auto-generated",
) -> EmailMessage:
    """compose as it was: every header parsed and refolded by policy.default (slow)."""
    msg = EmailMessage()
    msg["From"] = formataddr((identity.name, identity.address))
    msg["To"] = ", ".join(to)
    msg["Subject"] = rendered.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=identity.domain)
    if reply_to:
        msg["Reply-To"] = reply_to
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    refs = list(references or [])
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    if refs:
        msg["References"] = " ".join(refs if len(refs) <= 20 else [refs[0], *refs[-19:]])
    if auto_submitted:
        msg["Auto-Submitted"] = auto_submitted
        msg["X-Auto-Response-Suppress"] = "All"
    msg[LOOP_HEADER] = identity.address
    msg.set_content(rendered.body, cte="quoted-printable")
    return msg


def wire(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=policy.SMTP)  # as queue() stores it


def read_back(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def assert_sound_wire(data: bytes) -> None:
    assert data.isascii()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    head, _, body = data.partition(b"\r\n\r\n")
    assert all(len(line) <= 78 for line in head.split(b"\r\n")), head
    assert all(len(line) <= 998 for line in body.split(b"\r\n"))


SWEDISH = "Vi har tagit emot ditt ärende 1234: läckande kran i källaren på Åsgatan 7 [#1234-ab12cd]"
LONG_ASCII = "Re: " + " ".join(["leaking tap in the basement,"] * 9) + " [#1234-ab12cd]"
CASES = {
    "swedish": dict(
        identity=SWEDE,
        subject=SWEDISH,
        body="Hej Åsa,\n\nVi återkommer så snart vi kan.\n\nVänliga hälsningar\nFörvaltningen\n",
    ),
    "ascii": dict(identity=PLAIN, subject="Your open cases (3)", body="Hello,\n\n- 1\n- 2\n"),
    "long ascii subject": dict(identity=PLAIN, subject=LONG_ASCII, body="x\n"),
    "long swedish subject": dict(identity=SWEDE, subject=" ".join([SWEDISH] * 4), body="å\n"),
    "one long word": dict(identity=PLAIN, subject="x" * 120, body="x\n"),
    "no subject": dict(identity=SWEDE, subject="", body="x\n"),
    "look-alike encoded word": dict(identity=PLAIN, subject="=?utf-8?q?fake?= ö", body="x\n"),
    "look-alike with an odd charset": dict(
        identity=PLAIN, subject="=?utf-8,zE\xba- \xa5\xb4?q?Fuktfl=C3=A4ck?= i hallen", body="x\n"
    ),
    "ascii look-alike": dict(identity=PLAIN, subject="Re: =?x-unknown?q?hej?=", body="x\n"),
    "quoted ascii name": dict(
        identity=compose.Identity("felanmalan@bostad.example", 'Bostad "AB", Ltd'),
        subject="Hej",
        body="x\n",
    ),
    "long non-ascii name": dict(
        identity=compose.Identity("felanmalan@bostad.example", "Å" * 50),
        subject="Hej",
        body="x\n",
    ),
    "empty body": dict(identity=SWEDE, subject="Tomt", body=""),
    "from and dots": dict(
        identity=SWEDE,
        subject="Rader",
        body="From me to you\n.\n..\n. x\nFrom \n>From\n",
    ),
    "long lines": dict(
        identity=SWEDE,
        subject="Långa rader",
        body="å" * 3000 + "\n" + "a" * 5000 + "\n" + "ord " * 1000,
    ),
    "odd line ends and spaces": dict(
        identity=PLAIN,
        subject="Odd",
        body="crlf\r\ncr\rtrailing   \ntab\t\n=3D =\n\x00\x01 \n\n\n",
    ),
}


@pytest.mark.parametrize(
    "to",
    [
        ["asa.ek@example.com"],
        [f"p{i}@example.com" for i in range(12)],
        ["Asa.Ek+desk@sub.x.example"],
    ],
)
@pytest.mark.parametrize("name", CASES)
def test_the_wire_reads_back_as_before(name: str, to: list[str]) -> None:
    case = CASES[name]
    identity = case["identity"]
    assert isinstance(identity, compose.Identity)
    rendered = compose.Rendered(str(case["subject"]), str(case["body"]))
    kwargs: dict[str, Any] = dict(
        to=to,
        rendered=rendered,
        now=NOW,
        in_reply_to="<orig@mail.example.com>",
        references=REFS,
        reply_to="felanmalan+1234-ab12cd@bostad.example",
        auto_submitted="auto-replied",
    )
    new, old = compose.compose(identity, **kwargs), reference(identity, **kwargs)
    new_wire, old_wire = wire(new), wire(old)
    assert_sound_wire(new_wire)
    got, expected = read_back(new_wire), read_back(old_wire)

    assert got.keys() == expected.keys()  # the same headers in the same order
    for header in expected:
        if header not in {"Message-ID", "Subject"}:
            assert str(got[header]) == str(expected[header]).strip(), header
    # As meant: the old way lost, at some folds, the space before an encoded word ("dittärende"),
    # and decoded text that only looked like an encoded word.
    assert got["Subject"] == rendered.subject
    assert got["Message-ID"].endswith("@bostad.example>")
    assert str(got["Message-ID"]) != str(expected["Message-ID"])
    assert not got.defects
    assert all(not value.defects for value in got.values())
    assert got.get_content_type() == "text/plain"
    assert got.get_param("charset") == "utf-8"
    assert got["Content-Transfer-Encoding"] == "quoted-printable"
    assert got["MIME-Version"] == "1.0"
    assert got.get_content() == expected.get_content()

    # queue() stores compose's summary: what reading the mail back gives
    read = compose.summarize(got)
    assert new.summary == replace(read, text=read.text.replace("\r\n", "\n"))
    for header in QUEUE_READS:
        # as a reader of the old wire read it (Python reads adjacent encoded words in a
        # long display name with a space between them; RFC 2047 readers without)
        was = rendered.subject if header == "Subject" else str(expected[header]).strip()
        assert str(new[header]) == was, header
    assert compose._plain_text(new) == compose._plain_text(old)


def test_control_characters_in_a_subject_are_sent_as_spaces() -> None:
    rendered = compose.Rendered("Ärende\x00 om\x1b[31m dörren\x85", "x\n")
    msg = compose.compose(PLAIN, to=["a@example.com"], rendered=rendered, now=NOW)
    assert read_back(wire(msg))["Subject"] == "Ärende  om [31m dörren "
    assert msg.summary is not None
    assert msg.summary.subject == "Ärende  om [31m dörren "


@pytest.mark.parametrize("name", CASES)
def test_wire_bytes_are_what_the_smtp_policy_writes(name: str) -> None:
    case = CASES[name]
    identity = case["identity"]
    assert isinstance(identity, compose.Identity)
    for to in (["asa.ek@example.com"], [f"p{i}@example.com" for i in range(12)]):
        msg = compose.compose(
            identity,
            to=to,
            rendered=compose.Rendered(str(case["subject"]), str(case["body"])),
            now=NOW,
            in_reply_to="<orig@mail.example.com>",
            references=REFS,
        )
        assert compose.wire_bytes(msg) == wire(msg)
        msg["X-Added"] = "ä " * 60  # changed after compose: the generator's way
        assert compose.wire_bytes(msg) == wire(msg)
    other = reference(
        identity, to=["a@example.com"], rendered=compose.Rendered("å", "x\n"), now=NOW
    )
    assert compose.wire_bytes(other) == wire(other)


def test_encoded_words_are_what_the_email_package_writes() -> None:
    utf8_base64 = Charset("utf-8")
    utf8_base64.header_encoding = BASE64
    rng = random.Random(7)
    letters = "abc xyzåäöÅÄÖé€😀漢字[#]-:"  # one to four bytes each in UTF-8
    for _ in range(3000):
        text = "".join(rng.choice(letters) for _ in range(rng.randint(1, 300)))
        expected = Header(text, utf8_base64, header_name="Subject").encode(linesep="\n")
        assert compose._encoded_words(text, "Subject") == expected, text


def test_headers_and_text_as_meant() -> None:
    subject = "Ärende 12 är nu ditt: (utan ämne) (utan ämne)  två  mellanslag [#12-abcdef]"
    body = "Hej\r\nrad två\n"
    msg = compose.compose(
        SWEDE,
        to=["kalle@bostad.example"],
        rendered=compose.Rendered(subject, body),
        now=NOW,
        in_reply_to="<new@kund.example>",
        references=REFS,
    )
    got = read_back(wire(msg))
    # policy.default used to drop a space at some folds of encoded words; not any more
    assert got["Subject"] == subject
    assert str(msg["Subject"]) == subject
    assert got["From"].addresses[0].display_name == "Bostäder i Ålund AB"
    assert got["From"].addresses[0].addr_spec == "felanmalan@bostad.example"
    assert got["To"].addresses[0].addr_spec == "kalle@bostad.example"
    assert got["Date"].datetime == NOW
    assert got["In-Reply-To"] == "<new@kund.example>"
    # the thread's first id and the newest: the root of the conversation is never lost
    assert str(got["References"]).split() == [REFS[0], *REFS[-18:], "<new@kund.example>"]
    assert got["Auto-Submitted"] == "auto-generated"
    assert got["X-Auto-Response-Suppress"] == "All"
    assert got[LOOP_HEADER] == "felanmalan@bostad.example"
    assert "Reply-To" not in got
    assert got.get_content().replace("\r\n", "\n") == "Hej\nrad två\n"
    assert compose._plain_text(msg) == "Hej\nrad två\n"
    assert b"=?utf-8?" in wire(msg)  # RFC 2047, not raw UTF-8


def test_person_mail_has_no_machine_marks() -> None:
    msg = compose.compose(
        PLAIN,
        to=["a@kund.example"],
        rendered=compose.Rendered("Hej", "Hej"),
        now=NOW,
        auto_submitted=None,
    )
    got = read_back(wire(msg))
    assert msg["Auto-Submitted"] is None
    assert "Auto-Submitted" not in got
    assert "X-Auto-Response-Suppress" not in got
    assert "References" not in got


def test_attachments_and_alternatives_still_fit() -> None:
    """notify adds attachments and reports an HTML part to what compose returns."""
    msg = compose.compose(
        SWEDE,
        to=["a@kund.example"],
        rendered=compose.Rendered("Bilaga", "Se bilagan, Åsa.\n"),
        now=NOW,
    )
    msg.add_attachment(b"\x89PNG...", maintype="image", subtype="png", filename="bild.png")
    assert compose._plain_text(msg) == "Se bilagan, Åsa.\n"
    assert compose.summarize(msg).text == "Se bilagan, Åsa.\n"
    got = read_back(wire(msg))
    assert got.get_content_type() == "multipart/mixed"
    text, image = got.iter_parts()
    assert isinstance(text, EmailMessage)
    assert text.get_content().replace("\r\n", "\n") == "Se bilagan, Åsa.\n"
    assert text["Content-Transfer-Encoding"] == "quoted-printable"
    assert isinstance(image, EmailMessage)
    assert image.get_content() == b"\x89PNG..."
    assert got["Subject"] == "Bilaga"

    report = compose.compose(
        PLAIN, to=["a@kund.example"], rendered=compose.Rendered("Rapport", "text\n"), now=NOW
    )
    report.add_alternative("<p>html</p>", subtype="html")
    assert compose._plain_text(report) == "text\n"
    assert read_back(wire(report)).get_body(("html",)) is not None


def test_changed_headers_are_read_as_changed() -> None:
    msg = compose.compose(
        PLAIN, to=["a@kund.example"], rendered=compose.Rendered("Ett", "x"), now=NOW
    )
    assert msg["Subject"] == "Ett"
    del msg["Subject"]
    msg["Subject"] = "Två"
    assert msg["Subject"] == "Två"
    assert msg.get("subject") == "Två"
    assert msg.get("X-Nothing", "none") == "none"
    assert compose.summarize(msg).subject == "Två"  # compose's summary is void once changed
    assert read_back(wire(msg))["Subject"] == "Två"
