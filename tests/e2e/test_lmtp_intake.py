"""LMTP for an MTA in front: one status per recipient after DATA, strangers refused."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon, daemon_env, start_daemon

pytestmark = pytest.mark.e2e


@pytest.fixture
def daemon(tmp_path: Path, rules_path: Path, sink: Sink) -> Iterator[RunningDaemon]:
    env = daemon_env(
        tmp_path / "data",
        rules_path,
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}",
        SMARTMAIL_LMTP_LISTEN="127.0.0.1:0",
    )
    running = start_daemon(env, tmp_path)
    try:
        yield running
    finally:
        running.stop()


class Conversation:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        assert self.reply().startswith("220")

    def reply(self) -> str:
        lines = []
        while True:
            line = self.file.readline().decode()
            lines.append(line.strip())
            if line[3:4] != "-":
                return "\n".join(lines)

    def say(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_lmtp_answers_each_recipient_after_the_commit(daemon: RunningDaemon) -> None:
    assert daemon.lmtp_port is not None
    lmtp = Conversation(daemon.lmtp_port)
    try:
        assert lmtp.say("LHLO mx.bostad.example").startswith("250")
        assert lmtp.say("MAIL FROM:<eva@kund.example>").startswith("250")
        assert lmtp.say("RCPT TO:<felanmalan@bostad.example>").startswith("250")
        assert lmtp.say("RCPT TO:<hyra@bostad.example>").startswith("250")
        assert lmtp.say("RCPT TO:<root@bostad.example>").startswith("550")
        assert lmtp.say("DATA").startswith("354")
        body = (
            "From: eva@kund.example\r\nTo: felanmalan@bostad.example, hyra@bostad.example\r\n"
            "Subject: Inbetalningskort saknas\r\nMessage-ID: <lmtp-1@kund.example>\r\n\r\n"
            "Jag har inte fått något inbetalningskort för december.\r\n."
        )
        lmtp.sock.sendall(body.encode() + b"\r\n")
        first, second = lmtp.reply(), lmtp.reply()
        assert first.startswith("250")
        assert second.startswith("250")
        assert "case 1" in first
        lmtp.say("QUIT")
    finally:
        lmtp.close()
    case = daemon.case(1)
    assert case["channel"] == "mail"
    assert case["messages"][0]["channel"] == "lmtp"


def test_an_empty_mail_is_refused_for_each_recipient(daemon: RunningDaemon) -> None:
    """As over SMTP: zero bytes are no mail; one 554 per recipient, nothing stored."""
    assert daemon.lmtp_port is not None
    lmtp = Conversation(daemon.lmtp_port)
    try:
        assert lmtp.say("LHLO mx.bostad.example").startswith("250")
        assert lmtp.say("MAIL FROM:<eva@kund.example>").startswith("250")
        assert lmtp.say("RCPT TO:<felanmalan@bostad.example>").startswith("250")
        assert lmtp.say("RCPT TO:<hyra@bostad.example>").startswith("250")
        assert lmtp.say("DATA").startswith("354")
        lmtp.sock.sendall(b".\r\n")
        assert lmtp.reply().startswith("554 5.6.0 Empty mail")
        assert lmtp.reply().startswith("554 5.6.0 Empty mail")
        lmtp.say("QUIT")
    finally:
        lmtp.close()
    assert daemon.cli("case", "list", "--json").stdout.strip() == b"[]"
