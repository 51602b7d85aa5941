"""Shared fixtures: a settings object on a temporary data dir, test rules, an SMTP sink."""

from __future__ import annotations

import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from smartmail.app import App, open_app
from smartmail.config import Settings, load_settings
from smartmail.store.models import Case

TEST_RULES = textwrap.dedent(
    """\
    address: felanmalan@bostad.example
    addresses: [hyra@bostad.example]
    language: sv
    calendar:
      timezone: Europe/Stockholm
      business_hours: {mon-fri: "07:00-16:00"}
      holidays: SE
    priorities:
      - name: akut
        respond_within: 1h
        resolve_within: 24h
        remind_before: 4h
        clock: always
        escalate: [{after: 0h, to: forvaltare}]
      - name: normal
        resolve_within: 3d
        remind_before: 4h
        clock: business_hours
        escalate: [{after: 0h, to: forvaltare}]
    people:
      - {email: kalle@bostad.example, name: Kalle Karlsson, role: staff}
      - {email: lisa@bostad.example, name: Lisa Berg, role: staff}
      - {email: anna@bostad.example, name: Anna Ek, role: manager}
      - {email: jobb@rorab.example, name: Rör AB, role: contractor}
    teams:
      fastighetsskotare: {members: [kalle@bostad.example, lisa@bostad.example]}
      forvaltare: {members: [anna@bostad.example]}
    categories:
      - name: Skador i lägenheten
        groups:
          - name: Stopp i avlopp
            match: {any: [avlopp, stopp]}
            recipient: fastighetsskotare
            priority: akut
      - name: Övrigt
        default: true
        recipient: forvaltare
        priority: normal
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(TEST_RULES, encoding="utf-8")
    return path


def settings_under(tmp_path: Path, rules_path: Path, **environ: str) -> Settings:
    """Settings on a data dir under `tmp_path` with the given rules; `environ` adds to them."""
    return load_settings(
        {
            "SMARTMAIL_DATA_DIR": str(tmp_path / "data"),
            "SMARTMAIL_RULES": str(rules_path),
            "SMARTMAIL_SECRET": "test-secret",
            **environ,
        },
        env_file=None,
    )


@pytest.fixture
def settings(tmp_path: Path, rules_path: Path) -> Settings:
    return settings_under(tmp_path, rules_path)


class MemoryTransport:
    """The outside world for in-process tests: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], bytes]] = []
        self.fail_with: Exception | None = None

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        if self.fail_with:
            raise self.fail_with
        self.sent.append((mail_from, rcpt_to, body))


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    application = open_app(settings, transport=MemoryTransport())
    yield application
    application.engine.dispose()


# The daily digests' subjects (templates/*/digest_*.txt), in both languages.
DIGEST_SUBJECTS = ("Dina öppna ärenden (", "Nya ärenden utan ansvarig (", "Your open cases (")
DIGEST_SUBJECTS += ("New cases without an owner (",)


def is_digest(mail: EmailMessage) -> bool:
    return str(mail["Subject"]).startswith(DIGEST_SUBJECTS)


@dataclass
class Sink:
    """An SMTP server that keeps what it receives: the outside world our mail goes to."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse_with: str | None = None

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.refuse_with:
            return self.refuse_with
        msg = message_from_bytes(envelope.original_content, policy=policy.default)  # type: ignore[attr-defined]
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))  # type: ignore[attr-defined]
        return "250 OK"

    def wait_to(
        self, address: str, count: int, timeout: float = 15.0, subject: str = ""
    ) -> list[EmailMessage]:
        """Wait until `address` has received `count` mails (whose subject has `subject`);
        returns them, oldest first."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            mails = self.to(address, subject)
            if len(mails) >= count:
                return mails
            time.sleep(0.02)
        got = len(self.to(address, subject))
        raise AssertionError(f"expected {count} mails to {address}, got {got}")

    def to(self, address: str, subject: str = "") -> list[EmailMessage]:
        """Mails to `address`; with `subject`, those whose subject has it. A daemon started
        in business hours on a working day sends the managers the week's report at once (a
        fresh database has not sent it yet): a test that counts a manager's mail names the
        ones it means. The morning's digests go to staff whenever a sweep (each minute)
        finds their cases: they count only when a test names them by subject."""
        with self.lock:
            return [
                m
                for m in self.messages
                if address in str(m["To"]).lower()
                and subject in str(m["Subject"])
                and (subject or not is_digest(m))
            ]


@contextmanager
def serving(handler: Any, port: int) -> Iterator[None]:
    """An aiosmtpd server on 127.0.0.1:`port` with `handler`, for the length of the block."""
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


@pytest.fixture
def sink() -> Iterator[Sink]:
    port = free_port()
    handler = Sink(port)
    with serving(handler, port):
        yield handler


def assert_routed_as_a_blocked_drain(case: Case | None, received: datetime) -> None:
    """What the starting rules make of "Stopp i avloppet": urgent, to Kalle, due in 24 h."""
    assert case is not None
    assert (case.category, case.group, case.priority) == (
        "Skador i lägenheten",
        "Stopp i avlopp",
        "akut",
    )
    assert case.assignee == "kalle@bostad.example"
    assert case.due_at == received + timedelta(hours=24)
