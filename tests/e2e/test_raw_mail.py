"""A large mail's raw bytes through the listener: kept exactly as they crossed SMTP."""

from __future__ import annotations

import hashlib
import random
import smtplib
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path

import pytest

from smartmail.store.db import make_engine, reading
from smartmail.store.models import RawMail
from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon
from tests.e2e.mailing import DESK

pytestmark = pytest.mark.e2e

CUSTOMER = "olle@kund.example"


def large_mail(size: int) -> bytes:
    """A mail of about `size` bytes on the wire, as a mail client sends it (CRLF), with
    lines SMTP must dot-stuff and 8-bit text."""
    msg = EmailMessage()
    msg["From"] = CUSTOMER
    msg["To"] = DESK
    msg["Subject"] = "Fuktfläck i taket"
    msg["Message-ID"] = make_msgid(domain="kund.example")
    msg.set_content("Se bilden.\n.\n..en rad med punkter\nHälsningar Olle\n", cte="8bit")
    photo = random.Random(size).randbytes(size * 3 // 4)  # base64 makes it 4/3
    msg.add_attachment(photo, maintype="image", subtype="jpeg", filename="fläck.jpg")
    return msg.as_bytes(policy=SMTP)


def send_raw(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        assert client.sendmail(CUSTOMER, [DESK], raw) == {}


def stored_raw(url: str, raw: bytes) -> bytes | None:
    """The bytes the database keeps under the SHA-256 of `raw`."""
    engine = make_engine(url)
    try:
        with reading(engine) as session:
            row = session.get(RawMail, hashlib.sha256(raw).hexdigest())
            return None if row is None else row.data
    finally:
        engine.dispose()


def test_a_large_mail_is_kept_byte_for_byte(
    daemon: RunningDaemon, sink: Sink, tmp_path: Path
) -> None:
    raw = large_mail(6 * 1024 * 1024)
    send_raw(daemon.port, raw)
    sink.wait_to(CUSTOMER, 1)
    assert stored_raw(f"sqlite:///{tmp_path / 'data' / 'smartmail.db'}", raw) == raw
    assert daemon.case(1)["customer"] == CUSTOMER
