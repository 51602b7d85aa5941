"""`smartmail run` greets before it has loaded the rest, and takes mail once it has."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.daemon import daemon_env

pytestmark = pytest.mark.e2e

# `smartmail run`, with the loading held until the test creates a file: what a slow start
# looks like to a client, without waiting on the clock.
HELD_START = """
import sys, time
from pathlib import Path
from smartmail import starting

gate, loading = Path(sys.argv[1]), starting._load

def held(settings):
    while not gate.exists():
        time.sleep(0.01)
    return loading(settings)

starting._load = held
sys.exit(starting.run())
"""

MAIL = (
    b"From: Eva Lind <eva@kund.example>\r\nTo: felanmalan@bostad.example\r\n"
    b"Subject: Stopp i avloppet\r\nMessage-ID: <early@kund.example>\r\n\r\nDet luktar.\r\n"
)


def held_start(tmp_path: Path, rules: Path, port: int) -> tuple[subprocess.Popen[str], Path]:
    gate = tmp_path / "go"
    env = daemon_env(tmp_path / "data", rules, SMARTMAIL_LISTEN=f"127.0.0.1:{port}")
    process = subprocess.Popen(
        [sys.executable, "-c", HELD_START, str(gate)],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    return process, gate


def connected(port: int, process: subprocess.Popen[str]) -> smtplib.SMTP:
    while True:
        assert process.poll() is None, process.communicate()[1]
        try:
            return smtplib.SMTP("127.0.0.1", port, timeout=30)
        except OSError:
            threading.Event().wait(0.01)  # not bound yet


def test_a_client_is_greeted_while_the_daemon_loads_and_its_mail_taken_once_loaded(
    tmp_path: Path, rules_path: Path
) -> None:
    port = free_port()
    process, gate = held_start(tmp_path, rules_path, port)
    try:
        client = connected(port, process)  # smtplib read the 220 on connecting
        assert client.ehlo()[0] == 250
        assert client.mail("eva@kund.example")[0] == 250
        answers: list[tuple[int, bytes]] = []
        recipient = threading.Thread(
            target=lambda: answers.append(client.rcpt("felanmalan@bostad.example"))
        )
        recipient.start()
        recipient.join(0.5)
        assert recipient.is_alive()  # RCPT waits for the rules to say who is served here
        gate.touch()
        recipient.join(60)
        assert [code for code, _text in answers] == [250]
        code, text = client.data(MAIL)
        assert (code, text) == (250, b"2.0.0 new_case case 1")
        client.quit()
    finally:
        gate.touch()
        process.send_signal(signal.SIGTERM)
        _out, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "SMTP listening on" in stderr  # said once the daemon took the listener over


def test_a_start_that_cannot_load_answers_451_and_exits_as_it_always_did(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("categories: [unclosed\n", encoding="utf-8")
    port = free_port()
    process, gate = held_start(tmp_path, rules, port)
    try:
        client = connected(port, process)
        assert client.ehlo()[0] == 250
        assert client.mail("eva@kund.example")[0] == 250
        gate.touch()
        code, text = client.rcpt("felanmalan@bostad.example")
        assert code == 451, text  # the mail comes again, to a daemon with good rules
        client.close()
    finally:
        gate.touch()
        _out, stderr = process.communicate(timeout=60)
    assert process.returncode == 78, stderr
    assert "smartmail: the rules are wrong:" in stderr
    assert "Traceback" not in stderr


def test_a_stop_or_reload_while_loading_does_not_kill_it_half_way(
    tmp_path: Path, rules_path: Path
) -> None:
    port = free_port()
    process, gate = held_start(tmp_path, rules_path, port)
    try:
        client = connected(port, process)
        assert client.ehlo()[0] == 250
        process.send_signal(signal.SIGHUP)  # a reload: the rules are read while loading
        process.send_signal(signal.SIGTERM)  # a stop: done once loaded
        assert client.mail("eva@kund.example")[0] == 250  # still answering
        gate.touch()
        code, text = client.rcpt("felanmalan@bostad.example")
        assert code == 451, text  # stopping: the mail comes again to the next start
        client.close()
    finally:
        gate.touch()
        _out, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


# `smartmail run` whose first sweep says when it began and then waits for the test.
HELD_SWEEP = """
import sys, time
from pathlib import Path
from smartmail import daemon, starting

gate, began, sweeping = Path(sys.argv[1]), Path(sys.argv[2]), daemon._sweep

def held(app, now, *pause):
    began.touch()
    while not gate.exists():
        time.sleep(0.01)
    return sweeping(app, now, *pause)

daemon._sweep = held
sys.exit(starting.run())
"""


def test_a_stop_during_a_sweep_is_quiet_and_waits_for_it(tmp_path: Path, rules_path: Path) -> None:
    gate, began = tmp_path / "go", tmp_path / "sweeping"
    env = daemon_env(tmp_path / "data", rules_path, SMARTMAIL_LISTEN=f"127.0.0.1:{free_port()}")
    process = subprocess.Popen(
        [sys.executable, "-c", HELD_SWEEP, str(gate), str(began)],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60  # a sweep that never begins fails, not hangs
        while not began.exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "the first sweep did not begin"
            threading.Event().wait(0.01)
        process.send_signal(signal.SIGTERM)
    finally:
        gate.touch()  # the sweep's thread ends, and with it the stop
        _out, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "raised an exception" not in stderr
