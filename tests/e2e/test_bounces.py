"""Bounces of our own mail end to end: the acknowledgement leaves through the relay with
its own return path, bounces come back over SMTP to it, and `smartmail suppressed`."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from smartmail.mail.tokens import parse_bounce_address
from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon
from tests.mail import bounce_mails

pytestmark = pytest.mark.e2e

CUSTOMER = "eva.svensson@kund.example"
DESK = "felanmalan@bostad.example"
OWNER = "kalle@bostad.example"  # of "Stopp i avloppet"
MANAGER = "anna@bostad.example"  # of anything else
SECRET = b"e2e-secret"


def customer_mail(subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Eva Svensson <{CUSTOMER}>"
    msg["To"] = DESK
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="kund.example")
    msg.set_content(body)
    return msg


def send(daemon: RunningDaemon, mail_from: str, to: str, raw: bytes) -> str:
    """One SMTP transaction; the listener's answer to DATA."""
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as client:
        client.ehlo()
        client.mail(mail_from)  # "" is the null return path of a bounce
        client.rcpt(to)
        code, reply = client.data(raw)
    assert code == 250, reply
    return reply.decode()


def acknowledgement(sink: Sink, count: int = 1) -> tuple[str, str]:
    """(envelope sender, Message-ID) of the `count`th acknowledgement, from the sink."""
    ack = sink.wait_to(CUSTOMER, count)[count - 1]
    with sink.lock:
        index = next(i for i, m in enumerate(sink.messages) if m is ack)
        mail_from, rcpt_to = sink.envelopes[index]
    assert rcpt_to == [CUSTOMER]
    return mail_from, str(ack["Message-ID"])


def kinds(case: dict[str, object], kind: str) -> list[dict[str, object]]:
    return [e["detail"] for e in case["events"] if e["kind"] == kind]  # type: ignore[index,union-attr]


def suppressed(daemon: RunningDaemon) -> list[dict[str, object]]:
    listed = daemon.cli("suppressed", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, object]] = json.loads(listed.stdout)
    return rows


def test_a_bounce_round_trip(daemon: RunningDaemon, sink: Sink) -> None:
    send(daemon, CUSTOMER, DESK, customer_mail("Stopp i avloppet", "Det är stopp.").as_bytes())
    verp, ack_id = acknowledgement(sink)
    parsed = parse_bounce_address(verp)
    assert parsed is not None, verp
    assert parsed.base == DESK
    assert parsed.genuine(SECRET)

    # A report by the standard, then a bounce in a server's own words, both to the return path
    report = bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER)
    assert send(daemon, "", verp, report) == "2.0.0 bounce case 1"
    text = bounce_mails.qmail_text(to=verp, recipient=CUSTOMER, returned_id=ack_id)
    assert send(daemon, "", verp, text) == "2.0.0 bounce case 1"

    case = daemon.case(1)
    failures = kinds(case, "delivery_failed")
    assert [(f["to"], f["status"], f["permanent"]) for f in failures] == [
        (CUSTOMER, "5.1.1", True),
        (CUSTOMER, "5.1.1", True),
    ]
    assert "User unknown" in str(failures[0]["error"])
    assert [s["address"] for s in kinds(case, "suppressed")] == [CUSTOMER, CUSTOMER]
    bounces = [m for m in case["messages"] if m["thread_signal"] == "bounce_address"]
    assert [m["visibility"] for m in bounces] == ["internal", "internal"]
    listed = daemon.cli("case", "list", "--json")
    assert len(json.loads(listed.stdout)) == 1  # a bounce never opens a case

    (notice,) = sink.wait_to(OWNER, 1, subject="kom inte fram")
    assert CUSTOMER in notice.get_content()
    assert "[#1-" in str(notice["Subject"])

    (held,) = suppressed(daemon)
    assert (held["address"], held["case"]) == (CUSTOMER, 1)
    assert str(held["reason"]).startswith("5.1.1")

    # The next automatic mail to the customer is not sent; its case says so.
    send(daemon, CUSTOMER, DESK, customer_mail("Ingen värme", "Elementen är kalla.").as_bytes())
    sink.wait_to(MANAGER, 1, subject="Nytt ärende 2")  # mail queued after the notices is out
    assert len(sink.to(CUSTOMER)) == 1
    assert len(sink.to(OWNER, subject="kom inte fram")) == 1  # told once, for two bounces
    (skipped,) = kinds(daemon.case(2), "mail_skipped")
    assert (skipped["to"], skipped["template"]) == (CUSTOMER, "ack")

    # Lifted by hand: the customer is answered again.
    removed = daemon.cli("suppressed", "remove", CUSTOMER.upper())
    assert removed.returncode == 0, removed.stderr
    assert suppressed(daemon) == []
    assert daemon.cli("suppressed", "remove", CUSTOMER).returncode == 65
    send(
        daemon, CUSTOMER, DESK, customer_mail("Trasig dörr", "Dörren går inte att låsa.").as_bytes()
    )
    later_verp, _ = acknowledgement(sink, 2)
    assert later_verp != verp  # each mail its own return path
    assert "unsuppressed" in [e["kind"] for e in daemon.case(1)["events"]]


def test_a_forged_return_path_is_ignored(daemon: RunningDaemon, sink: Sink) -> None:
    send(daemon, CUSTOMER, DESK, customer_mail("Stopp i avloppet", "Det är stopp.").as_bytes())
    verp, ack_id = acknowledgement(sink)
    parsed = parse_bounce_address(verp)
    assert parsed is not None
    forged = verp.replace(parsed.signature, "k2m4q6s7xz")
    report = bounce_mails.rfc3464(to=forged, returned_id=ack_id, recipient=CUSTOMER)
    assert send(daemon, "", forged, report) == "2.0.0 stored"
    case = daemon.case(1)
    assert kinds(case, "delivery_failed") == []
    assert kinds(case, "suppressed") == []
    assert suppressed(daemon) == []
    listed = daemon.cli("suppressed")
    assert listed.stdout.decode().strip() == "no address is suppressed"
