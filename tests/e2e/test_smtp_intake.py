"""The daemon end to end: real SMTP in, real SMTP out to a sink, the `smartmail` command to read."""

from __future__ import annotations

import hashlib
import json
import os
import smtplib
import threading
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.e2e

CUSTOMER = "eva.svensson@kund.example"
DESK = "felanmalan@bostad.example"


def mail(subject: str, body: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Eva Svensson <{CUSTOMER}>"
    msg["To"] = DESK
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="kund.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def send(daemon: RunningDaemon, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as client:
        assert client.send_message(msg) == {}


def test_a_mail_becomes_a_case_and_replies_find_it(daemon: RunningDaemon, sink: Sink) -> None:
    first = mail("Stopp i avloppet", "Hej!\n\nDet är stopp i avloppet i köket.\n\nMvh Eva")
    send(daemon, first)

    (ack,) = sink.wait_to(CUSTOMER, 1)
    sink.wait_to("kalle@bostad.example", 1)  # the owner's notice
    assert "[#1-" in ack["Subject"]
    assert ack["In-Reply-To"] == first["Message-ID"]
    assert first["Message-ID"] in ack["References"]
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["From"] == DESK
    assert ack["Message-ID"]
    assert ack["Date"]
    assert ack["X-Smartmail-Loop"] == DESK
    body = ack.get_content()
    assert "ärende nummer 1" in body
    assert "Beräknad åtgärd senast" in body
    assert len(sink.to("kalle@bostad.example")) == 1  # least loaded of the team, first listed

    by_token = mail("SV: " + ack["Subject"], "Det rinner över nu också.")
    send(daemon, by_token)
    by_reference = mail("Re: avloppet", "Och nu luktar det.", In_Reply_To=ack["Message-ID"])
    send(daemon, by_reference)
    send(daemon, by_reference)  # the same Message-ID again: stored once, answered once

    case = daemon.case(1)
    inbound = [m for m in case["messages"] if m["direction"] == "in"]
    assert [m["thread_signal"] for m in inbound] == ["new", "token", "references"]
    assert inbound[1]["text"] == "Det rinner över nu också."
    assert case["status"] == "assigned"
    assert case["customer"] == CUSTOMER
    listed = daemon.cli("case", "list", "--json")
    assert listed.returncode == 0
    assert b'"number": 1' in listed.stdout
    assert b'"number": 2' not in listed.stdout
    assert len(sink.to(CUSTOMER)) == 1  # replies get no second acknowledgement


def test_refuses_to_relay_for_other_addresses(daemon: RunningDaemon) -> None:
    msg = mail("Hej", "Relay?")
    with (
        smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as client,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        client.send_message(msg, to_addrs=["someone@elsewhere.example"])
    code, _text = refused.value.recipients["someone@elsewhere.example"]
    assert code == 550


def test_ingest_pipe_has_the_exit_codes_of_the_contract(daemon: RunningDaemon) -> None:
    raw = mail("Trasig dörr", "Dörren till förrådet går inte att låsa.").as_bytes()
    stored = daemon.cli("ingest", "-", input=raw)
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout.startswith(b"new_case")
    again = daemon.cli("ingest", "-", input=raw)
    assert again.returncode == 0
    assert again.stdout.startswith(b"duplicate")
    assert daemon.cli("ingest", "-", input=b"").returncode == 65
    assert daemon.cli("ingest", "/nonexistent.eml").returncode == 66


def test_a_burst_over_many_connections_is_stored_once_each(daemon: RunningDaemon) -> None:
    """Mail arriving together is committed together; each still gets its own answer."""
    mails = [
        new_customer_mail(
            f"kund{i}@kund.example", f"Ärende {i}", f"Fönstret {i} går inte att stänga."
        )
        for i in range(10)
    ]
    twice = mails[0]
    replies: list[bytes] = []

    def deliver(msg: EmailMessage) -> None:
        with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as client:
            client.ehlo()
            client.mail(str(msg["From"]))
            client.rcpt(DESK)
            code, reply = client.data(msg.as_bytes())
            assert code == 250, reply
            replies.append(reply)

    threads = [threading.Thread(target=deliver, args=(m,)) for m in [*mails, twice]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    kinds = sorted(reply.split()[1].decode() for reply in replies)
    assert kinds == ["duplicate"] + ["new_case"] * 10
    numbers = {int(reply.split()[-1]) for reply in replies if b"new_case" in reply}
    assert numbers == set(range(1, 11))
    listed = daemon.cli("case", "list", "--json")
    assert listed.returncode == 0
    assert len(json.loads(listed.stdout)) == 10


def test_two_mails_under_one_message_id_are_both_kept_and_answered(
    daemon: RunningDaemon, sink: Sink
) -> None:
    """Some senders reuse Message-IDs: the second mail is not a duplicate of the first."""
    first = new_customer_mail("anna@kund.example", "Trasig dörr", "Dörren till förrådet.")
    second = new_customer_mail("bo@kund.example", "Ingen värme", "Elementen är kalla.")
    second.replace_header("Message-ID", str(first["Message-ID"]))
    send(daemon, first)
    send(daemon, second)
    send(daemon, second)  # and its resend is a duplicate
    assert "Trasig dörr" in str(sink.wait_to("anna@kund.example", 1)[0]["Subject"])
    assert "Ingen värme" in str(sink.wait_to("bo@kund.example", 1)[0]["Subject"])
    assert daemon.case(2)["customer"] == "bo@kund.example"
    listed = json.loads(daemon.cli("case", "list", "--json").stdout)
    assert len(listed) == 2
    assert len(sink.to("bo@kund.example")) == 1


def test_a_large_photo_is_kept_byte_for_byte(
    daemon: RunningDaemon, sink: Sink, tmp_path: Path
) -> None:
    photo = b"\xff\xd8\xff\xe0" + os.urandom(5_000_000)
    msg = new_customer_mail("olle@kund.example", "Fuktfläck i taket", "Se bilden.")
    msg.add_attachment(photo, maintype="image", subtype="jpeg", filename="fläck i taket.jpg")
    send(daemon, msg)
    sink.wait_to("olle@kund.example", 1)
    (attachment,) = daemon.case(1)["messages"][0]["attachments"]
    assert (attachment["filename"], attachment["size"]) == ("fläck i taket.jpg", len(photo))
    digest = hashlib.sha256(photo).hexdigest()
    (kept,) = [p for p in (tmp_path / "data" / "attachments").rglob("*") if p.is_file()]
    assert digest in kept.name
    assert kept.read_bytes() == photo


def new_customer_mail(sender: str, subject: str, body: str) -> EmailMessage:
    msg = mail(subject, body)
    msg.replace_header("From", sender)
    return msg
