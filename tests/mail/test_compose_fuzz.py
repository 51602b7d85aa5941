"""Fuzzing the composer with what outside values may hold (hypothesis).

Any subject, display name, message id and address text gives either a refused mail or
one whose header, read back, has exactly the fields compose writes, whose recipients are
exactly the one checked address, and whose body is the body written.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smartmail.errors import MailRefused
from smartmail.mail import compose, msgid
from smartmail.mail.addr import recipient
from smartmail.mail.parse import parse

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DESK = "felanmalan@bostad.example"
BODY = "Hej!\n\nVi har tagit emot ditt ärende.\n"
FIELDS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "X-Smartmail-Loop",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
]
FUZZ = settings(
    max_examples=int(os.environ.get("SMARTMAIL_FUZZ_EXAMPLES", "300")),
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run: SMARTMAIL_FUZZ_EXAMPLES=5000 for more
    suppress_health_check=[HealthCheck.too_slow],
)

# Text with what hurts in headers: line ends, NUL, encoded words, quotes, commas, brackets.
NASTY = st.sampled_from(
    [
        *("\r\n", "\r", "\n", "\r\n\r\n", "\x00", "=?utf-8?q?", "?=", "=0D=0A", '"', ",", "<"),
        *(
            ">",
            "@",
            ":",
            ";",
            " ",
            "\t",
            "\u2028",
            "\x85",
            "\ufeff",
            "X-Evil: 1",
            "evil@evil.example",
        ),
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=12), NASTY), max_size=8).map("".join)
IDS = st.one_of(TEXT, st.builds(lambda left, right: f"<{left}@{right}>", TEXT, TEXT))
ADDRESSES = st.one_of(
    st.emails(),
    TEXT,
    st.builds(lambda local, domain: f"{local}@{domain}", TEXT, TEXT),
    st.builds(lambda local, email: f'"{local}"@{email}', TEXT, st.emails()),
)


def wire_of(address: str, subject: str, name: str, ids: list[str]) -> bytes | None:
    """The mail's bytes as queue() would store them, or None when it was refused."""
    try:
        msg = compose.compose(
            compose.Identity(DESK, name),
            to=[address],
            rendered=compose.Rendered(subject, BODY),
            now=NOW,
            in_reply_to=ids[-1] if ids else None,
            references=ids,
            reply_to="felanmalan+1-abcdefgh2k@bostad.example",
            auto_submitted="auto-replied",
        )
        return compose.checked_wire(msg)
    except MailRefused:
        return None


def assert_sound(data: bytes, address: str, ids: list[str]) -> None:
    got = message_from_bytes(data, policy=policy.default)
    assert isinstance(got, EmailMessage)
    names = list(got.keys())
    assert names == [field for field in FIELDS if field in names]  # ours, once each, in order
    assert {"From", "To", "Subject", "Message-ID", "Content-Type"} <= set(names)
    assert [a.addr_spec for a in got["To"].addresses] == [address]
    assert [a.addr_spec for a in got["From"].addresses] == [DESK]
    assert got.get_content().replace("\r\n", "\n") == BODY
    threaded = msgid.references(ids)
    assert str(got["References"] or "").split() == threaded
    if got["In-Reply-To"] is not None:
        assert str(got["In-Reply-To"]) == msgid.clean_id(ids[-1])
    for value in got.values():
        assert "\r" not in str(value)
        assert "\n" not in str(value)


@FUZZ
@given(address=ADDRESSES, subject=TEXT, name=TEXT, ids=st.lists(IDS, max_size=6))
@example(
    address='"x,evil@evil.example,y"@kund.example',
    subject="Stopp\r\nBcc: evil@evil.example",
    name="Bostad\r\n\r\nKlicka här",
    ids=["<=?utf-8?q?a=0D=0AX-Evil:_1?=@kund.example>", "<b\r\n\r\nbody@kund.example>"],
)
def test_any_outside_text_gives_a_refused_or_a_sound_mail(
    address: str, subject: str, name: str, ids: list[str]
) -> None:
    data = wire_of(address, subject, name, ids)
    try:
        checked = recipient(address)
    except MailRefused:
        assert data is None  # never sent to anything but one checked address
        return
    assert data is not None
    if checked.isascii():  # a UTF-8 address goes out with SMTPUTF8: its header is another's
        assert_sound(data, checked, ids)
    else:
        assert b"X-Evil" not in data


@FUZZ
@given(sender=ADDRESSES, name=TEXT)
@example(sender='"x,evil@evil.example,y"@kund.example', name="Eva")
@example(sender="eva@kund.example, evil@evil.example", name="")
def test_the_sender_of_any_from_header_is_one_address_or_none(sender: str, name: str) -> None:
    """The acknowledgement's recipient comes from the parsed From; one address, or none."""
    head = f"From: {name} <{sender}>\r\nTo: {DESK}\r\nSubject: Hej\r\n\r\nHej\r\n"
    mail = parse(head.encode("utf-8", "surrogateescape"))
    try:
        msg = compose.compose(
            compose.Identity(DESK),
            to=[mail.from_addr],
            rendered=compose.Rendered("Hej", BODY),
            now=NOW,
        )
    except MailRefused:
        return
    assert msg.summary is not None
    assert msg.summary.recipients == (mail.from_addr.lower(),)
    for forbidden in ',;:<>" \t\r\n\x00':
        assert forbidden not in mail.from_addr
