"""Mail from the wild through the real listener: the right words from the right person.

Hand-made fixtures of each class (tests/fixtures/mail) sent over SMTP; what the case
shows, who gets the acknowledgement, and how the mail was read (parse notes).
"""

from __future__ import annotations

import json
import smtplib
from pathlib import Path
from typing import Any

import pytest

from smartmail.mail.msgid import plain_subject
from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
DESK = "felanmalan@bostad.example"


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def send(daemon: RunningDaemon, raw: bytes, sender: str = "bounce@kund.example") -> None:
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as client:
        assert client.sendmail(sender, [DESK], crlf(raw)) == {}


def case_by_subject(daemon: RunningDaemon, subject: str) -> dict[str, Any]:
    listed = json.loads(daemon.cli("case", "list", "--json").stdout)
    number = next(c["number"] for c in listed if c["subject"] == subject)
    return daemon.case(number)


def test_each_class_reads_right_and_the_right_person_is_answered(
    daemon: RunningDaemon, sink: Sink
) -> None:
    expected = {
        # fixture: (subject, customer, words in the text, a parse note)
        "gb2312_unlabelled.eml": (
            "暖气坏了",
            "li.wei@kund.example",
            "请尽快派人来修理",
            "text/plain: gb18030 detected (no charset)",
        ),
        "big5_labelled_latin1.eml": (
            "關於房租的問題",
            "chen@kund.example",
            "繳費單",
            "subject: big5hkscs detected (labelled iso-8859-1)",
        ),
        "iso_2022_jp.eml": ("暖房の故障", "tanaka@kund.example", "暖房が壊れました", None),
        "from_without_brackets.eml": (
            "Nyckel borta",
            "anna.berg@kund.example",
            "tappat nyckeln",
            "sender: repaired",
        ),
        "html_with_stub_plain.eml": (
            "Elcentralen",
            "per@kund.example",
            "luktar bränt",
            "text: the HTML part's (the plain part is a stub)",
        ),
        "forward_attached_only.eml": (
            "Fwd: Fuktfläck",
            "kalle@kund.example",
            "fuktfläck i taket",
            "text: the forwarded mail's (nothing of its own)",
        ),
    }
    for name in expected:
        send(daemon, (FIXTURES / name).read_bytes())
    for name, (subject, customer, words, note) in expected.items():
        case = case_by_subject(daemon, subject)
        assert case["customer"] == customer, name
        (message,) = case["messages"][:1]
        assert words in message["text"], name
        if note:
            assert note in message["parse_notes"], name
        (ack,) = sink.wait_to(customer, 1)
        assert plain_subject(subject) in ack["Subject"]  # ours carry no "Fwd:" or "Re:"
    shown = daemon.cli("case", "show", str(case_by_subject(daemon, "暖气坏了")["number"]))
    assert "(read: text/plain: gb18030 detected (no charset))" in shown.stdout.decode()


def test_a_from_without_an_address_falls_back_to_the_envelope(
    daemon: RunningDaemon, sink: Sink
) -> None:
    raw = (
        b'From: "x,evil@evil.example,y"@kund.example\nTo: felanmalan@bostad.example\n'
        b"Subject: Ingen avsandare\n\nHej, lampan i trappan ar trasig.\n"
    )
    send(daemon, raw, sender="eva@kund.example")
    case = case_by_subject(daemon, "Ingen avsandare")
    assert case["customer"] == "eva@kund.example"
    assert "sender: envelope" in case["messages"][0]["parse_notes"]
    sink.wait_to("eva@kund.example", 1)
    assert sink.to("evil@evil.example") == []


def test_a_mail_nested_too_deep_still_has_its_sender(daemon: RunningDaemon, sink: Sink) -> None:
    depth = 1000
    parts = b"".join(
        b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1) for i in range(depth)
    )
    raw = (
        b"From: Anna <anna@kund.example>\nTo: felanmalan@bostad.example\nSubject: Djupt\n"
        b"Content-Type: multipart/mixed; boundary=b0\n\n" + parts + b"--b%d\n\nHej\n" % depth
    )
    send(daemon, raw)
    assert case_by_subject(daemon, "Djupt")["customer"] == "anna@kund.example"
    sink.wait_to("anna@kund.example", 1)


@pytest.mark.parametrize("nothing", [b"", b"\r\n", b" \r\n\r\n"], ids=["zero", "crlf", "blank"])
def test_zero_bytes_are_no_mail_but_headers_without_a_body_are(
    daemon: RunningDaemon, nothing: bytes
) -> None:
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("eva@kund.example", [DESK], nothing)
        assert refused.value.smtp_code == 554
        assert b"Empty mail" in refused.value.smtp_error
        headers_only = (
            b"From: eva@kund.example\r\nTo: felanmalan@bostad.example\r\nSubject: Tom\r\n"
        )
        assert client.sendmail("eva@kund.example", [DESK], headers_only) == {}
    assert case_by_subject(daemon, "Tom")["customer"] == "eva@kund.example"
    listed = json.loads(daemon.cli("case", "list", "--json").stdout)
    assert [case["subject"] for case in listed] == ["Tom"]  # nothing stored of the empty one
