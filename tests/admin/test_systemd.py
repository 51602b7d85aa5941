"""The daemon talks to systemd: a fake notify socket hears what a real daemon says."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import tempfile
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from smartmail.admin.systemd import Notifier
from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon, daemon_env, start_daemon


class FakeSystemd:
    """A datagram socket where systemd's would be, read all the time as systemd does: keeps
    every field it is told."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.heard: list[str] = []
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                datagram = self.sock.recv(4096).decode()
            except OSError:  # closed
                return
            if not datagram:  # shut down
                return
            with self.changed:
                self.heard += datagram.split("\n")
                self.changed.notify_all()

    def wait_for(self, field: str, timeout: float = 20.0) -> list[str]:
        """Everything heard, once a field starting with `field` is among it."""
        with self.changed:
            found = self.changed.wait_for(
                lambda: any(f.startswith(field) for f in self.heard), timeout
            )
            assert found, f"systemd never heard {field!r}; it heard {self.heard}"
            return list(self.heard)

    def forget(self) -> None:
        with self.changed:
            self.heard.clear()

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.reader.join(timeout=5)


@pytest.fixture
def systemd() -> Iterator[FakeSystemd]:
    # A Unix socket's path must fit in 108 bytes: pytest's tmp_path may not.
    with tempfile.TemporaryDirectory(prefix="sdn") as folder:
        fake = FakeSystemd(os.path.join(folder, "notify"))
        yield fake
        fake.close()


@pytest.fixture
def daemon(
    tmp_path: Path, rules_path: Path, sink: Sink, systemd: FakeSystemd
) -> Iterator[RunningDaemon]:
    env = daemon_env(
        tmp_path / "data",
        rules_path,
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}",
        NOTIFY_SOCKET=systemd.path,
        WATCHDOG_USEC="200000",
    )
    running = start_daemon(env, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def _mail(subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"] = "eva@kund.example", "felanmalan@bostad.example"
    mail["Subject"] = subject
    mail.set_content("Det droppar.")
    return mail


@pytest.mark.e2e
def test_ready_status_watchdog_reload_and_stop(daemon: RunningDaemon, systemd: FakeSystemd) -> None:
    heard = systemd.wait_for("READY=1")
    assert "STOPPING=1" not in heard
    # Ready means listening: the mail goes in at once.
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as smtp:
        smtp.send_message(_mail("Kranen droppar"))
    systemd.wait_for("WATCHDOG=1")
    assert any(f.startswith("STATUS=") and "cases today" in f for f in systemd.wait_for("STATUS="))

    systemd.forget()
    daemon.process.send_signal(signal.SIGHUP)
    heard = systemd.wait_for("RELOADING=1")
    assert any(f.startswith("MONOTONIC_USEC=") for f in heard)
    after = systemd.wait_for("READY=1")
    assert after.index("READY=1") > after.index("RELOADING=1")

    daemon.process.terminate()
    systemd.wait_for("STOPPING=1")
    assert daemon.process.wait(timeout=15) == 0


@pytest.mark.e2e
def test_the_status_counts_todays_cases(daemon: RunningDaemon, systemd: FakeSystemd) -> None:
    systemd.wait_for("READY=1")
    with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as smtp:
        smtp.send_message(_mail("Kranen droppar"))
    # The status is told every 30 s; a restart tells it at once.
    daemon.stop()
    systemd.wait_for("STOPPING=1")
    systemd.forget()
    again = start_daemon(daemon.env, daemon.cwd)
    try:
        status = [f for f in systemd.wait_for("STATUS=") if f.startswith("STATUS=")]
        assert status[0].startswith("STATUS=1 cases today, ")
        assert status[0].endswith(" mails in the outbox queue")
    finally:
        again.stop()


def test_no_socket_no_noise() -> None:
    Notifier(None, 200000).ready()  # outside systemd: nothing, and no error


def test_an_abstract_socket_and_one_line_status() -> None:
    name = f"@smartmail-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name[1:])
        Notifier(name).status("2 cases today\nREADY=1")
        assert sock.recv(100) == b"STATUS=2 cases today READY=1"


def test_a_gone_systemd_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier("/nonexistent/notify")
    notifier.ready()
    notifier.watchdog()
    assert len([r for r in caplog.records if "cannot tell systemd" in r.message]) == 1


def test_a_reader_that_is_behind_never_blocks_the_daemon() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="sdn") as folder,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as asleep,
    ):
        asleep.bind(os.path.join(folder, "notify"))
        notifier = Notifier(os.path.join(folder, "notify"), 200000)
        for _ in range(1000):  # far more than the socket's queue holds, and nobody reads
            notifier.watchdog()
            notifier.status("1 case today")
        assert asleep.recv(100) == b"WATCHDOG=1"
