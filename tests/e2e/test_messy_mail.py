"""Real-world mess through the real listener: every mail is accepted, stored, never quarantined."""

from __future__ import annotations

import json
import smtplib
from pathlib import Path

import pytest

from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
DESK = "felanmalan@bostad.example"

MESSY: dict[str, bytes] = {
    "unknown charset": (
        b"From: a@kund.example\r\nTo: felanmalan@bostad.example\r\n"
        b"Subject: =?x-unknown?Q?St=F6pp?=\r\n"
        b"Content-Type: text/plain; charset=x-unknown\r\n\r\nStopp i k\xf6ket\r\n"
    ),
    "two subjects": (
        b"From: b@kund.example\r\nTo: felanmalan@bostad.example\r\nSubject: Ett\r\nSubject: Tva\r\n"
        b"\r\nHej\r\n"
    ),
    "raw 8-bit headers": (
        "From: Åsa Öberg <c@kund.example>\r\nTo: felanmalan@bostad.example\r\n"
        "Subject: Läckage i badrummet\r\n\r\nDet droppar från taket.\r\n"
    ).encode(),
    "windows-1252 labelled latin-1": (
        b"From: d@kund.example\r\nTo: felanmalan@bostad.example\r\nSubject: Trasig dorr\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Kostnad \x80 500 \x96 \x93snabbt\x94\r\n"
    ),
    "no headers at all": b"\r\njust some text without any header\r\n",
    "broken MIME": (
        b"From: e@kund.example\r\nTo: felanmalan@bostad.example\r\nSubject: Bilaga\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n'
        b'\r\nHej\r\n--XX\r\nContent-Type: application/pdf; name="a.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
    ),
    "mailer-daemon without @": (
        b"From: MAILER-DAEMON\r\nTo: felanmalan@bostad.example\r\nSubject: Undelivered Mail\r\n"
        b"\r\nThe mail could not be delivered.\r\n"
    ),
}


def crlf(raw: bytes) -> bytes:
    """Files keep LF; on the wire every line ends in CRLF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_messy_mail_is_accepted_stored_and_never_quarantined(daemon: RunningDaemon) -> None:
    files = {p.name: crlf(p.read_bytes()) for p in sorted(FIXTURES.glob("*.eml"))}
    samples = {**MESSY, **files}
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as client:
        for name, raw in samples.items():
            sender = "<>" if "bounce" in name else "sender@kund.example"
            client.sendmail(sender, [DESK], raw)  # raises on anything but 250
            assert name
    replay = daemon.cli("replay")
    assert replay.stdout.strip() == b"nothing in quarantine"
    listed = json.loads(daemon.cli("case", "list", "--json").stdout)
    number = next(c["number"] for c in listed if c["subject"] == "Trasig dorr")
    assert "€ 500 \u2013 \u201csnabbt\u201d" in daemon.case(number)["messages"][0]["text"]
