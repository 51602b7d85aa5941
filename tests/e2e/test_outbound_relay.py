"""The daemon's mail out through a relay as a stock Postfix is: STARTTLS with a self-signed
certificate, with or without SMTPUTF8. Mail in over SMTP, out over SMTP to the relay."""

from __future__ import annotations

import smtplib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.e2e.daemon import RunningDaemon, daemon_env, start_daemon
from tests.outbound.relays import Certificate, TlsSink, relay, self_signed

pytestmark = pytest.mark.e2e

DESK = "felanmalan@bostad.example"
EVA = "eva@kund.example"
ASA = "åsa@kund.example"
OWNER = "kalle@bostad.example"  # "stopp i avloppet" goes to the caretakers, Kalle first
ADVICE = "SMARTMAIL_OUTBOUND_CA to a file"


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed(tmp_path / "certs")


@contextmanager
def running(
    tmp_path: Path, rules_path: Path, sink: TlsSink, **extra: str
) -> Iterator[RunningDaemon]:
    env = daemon_env(
        tmp_path / "data",
        rules_path,
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}",
        **extra,
    )
    daemon = start_daemon(env, tmp_path)
    try:
        yield daemon
    finally:
        daemon.stop()


def mail_in(daemon: RunningDaemon, sender: str, name: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>" if name else sender
    msg["To"] = DESK
    msg["Subject"] = "Stopp i avloppet"
    msg["Message-ID"] = make_msgid(domain="kund.example")
    msg.set_content("Hej! Det är stopp i avloppet i köket.")
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as client:
        # smtplib takes SMTPUTF8 itself for an address that is not ASCII
        assert client.send_message(msg) == {}
    return msg


def wait_for_tries(data_dir: Path, count: int, timeout: float = 20.0) -> None:
    """Until `count` outbox rows have been tried at least once (sent or not)."""
    end = time.monotonic() + timeout
    tried = 0
    while time.monotonic() < end:
        with sqlite3.connect(data_dir / "smartmail.db", timeout=30) as db:
            tried = db.execute("SELECT count(*) FROM outbox WHERE attempts > 0").fetchone()[0]
        if tried >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"expected {count} outbox rows tried, got {tried}")


def test_smtp_relay_with_a_self_signed_certificate_takes_the_mail_over_starttls(
    tmp_path: Path, rules_path: Path, certificate: Certificate
) -> None:
    with relay(certificate) as sink, running(tmp_path, rules_path, sink) as daemon:
        mail_in(daemon, EVA)
        (ack,) = sink.wait_to(EVA, 1)
        sink.wait_to(OWNER, 1, subject="Stopp i avloppet")
    assert "[#1-" in str(ack["Subject"])
    assert sink.over_tls
    assert all(sink.over_tls)


def test_verify_refuses_the_self_signed_certificate_and_the_log_says_once_what_to_set(
    tmp_path: Path, rules_path: Path, certificate: Certificate
) -> None:
    with (
        relay(certificate) as sink,
        running(tmp_path, rules_path, sink, SMARTMAIL_OUTBOUND_TLS="verify") as daemon,
    ):
        for n in range(3):
            mail_in(daemon, f"kund{n}@kund.example")
        wait_for_tries(tmp_path / "data", 6)  # three acknowledgements, three owner notices
        cases = [daemon.case(n)["status"] for n in (1, 2, 3)]
    assert sink.messages == []
    advice = [line for line in daemon.log if ADVICE in line]
    assert len(advice) == 1, "".join(daemon.log)
    assert "self-signed certificate" in advice[0]
    assert "SMARTMAIL_OUTBOUND_TLS=may" in advice[0]
    assert cases == ["assigned"] * 3  # the mail is in; only its answers wait


def test_verify_with_the_relays_certificate_delivers(
    tmp_path: Path, rules_path: Path, certificate: Certificate
) -> None:
    with (
        relay(certificate) as sink,
        running(
            tmp_path,
            rules_path,
            sink,
            SMARTMAIL_OUTBOUND_TLS="verify",
            SMARTMAIL_OUTBOUND_CA=str(certificate.cert),
        ) as daemon,
    ):
        mail_in(daemon, EVA)
        sink.wait_to(EVA, 1)
        sink.wait_to(OWNER, 1, subject="Stopp i avloppet")
    assert all(sink.over_tls)
    assert not [line for line in daemon.log if ADVICE in line]


def test_a_customer_at_a_utf8_address_gets_the_acknowledgement_through_a_smtputf8_relay(
    tmp_path: Path, rules_path: Path, certificate: Certificate
) -> None:
    with relay(certificate, smtputf8=True) as sink, running(tmp_path, rules_path, sink) as daemon:
        sent = mail_in(daemon, ASA, name="Åsa Öberg")
        sink.wait_to(OWNER, 1, subject="Stopp i avloppet")
        deadline = time.monotonic() + 15
        while (DESK, [ASA]) not in sink.envelopes and time.monotonic() < deadline:
            time.sleep(0.05)
        case = daemon.case(1)
    assert case["customer"] == ASA
    (index,) = [i for i, (_, rcpts) in enumerate(sink.envelopes) if rcpts == [ASA]]
    assert sink.envelopes[index][0].startswith("felanmalan+b-")  # its own return path
    ack = sink.read_as_utf8(index)
    assert ack["To"].addresses[0].addr_spec == ASA
    assert ack["In-Reply-To"] == sent["Message-ID"]
    assert "[#1-" in str(ack["Subject"])
    assert "delivery_failed" not in [event["kind"] for event in case["events"]]


def test_a_utf8_address_through_a_relay_without_smtputf8_fails_on_the_case_and_the_owner_hears(
    tmp_path: Path, rules_path: Path, certificate: Certificate
) -> None:
    with relay(certificate, smtputf8=False) as sink, running(tmp_path, rules_path, sink) as daemon:
        mail_in(daemon, ASA)
        sink.wait_to(OWNER, 1, subject="Stopp i avloppet")
        (told,) = sink.wait_to(OWNER, 1, subject="levereras")
        case = daemon.case(1)
    assert "levereras" in str(told["Subject"])
    assert ASA in told.get_content()
    assert "SMTPUTF8" in told.get_content()
    (failed,) = [event for event in case["events"] if event["kind"] == "delivery_failed"]
    assert (DESK, [ASA]) not in sink.envelopes
    assert case["customer"] == ASA
    assert failed["actor"] == "system"
    assert failed["detail"]["to"] == ASA
    assert "does not offer SMTPUTF8" in failed["detail"]["error"]
