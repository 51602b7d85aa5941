"""An admin's first day: a port in use, no SMTP listener, a command run in the wrong place."""

from __future__ import annotations

import os
import smtplib
import socket
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import daemon_env, run_cli, start_daemon

pytestmark = pytest.mark.e2e

EX_CONFIG = 78


@pytest.mark.parametrize("setting", ["SMARTMAIL_LISTEN", "SMARTMAIL_LMTP_LISTEN"])
def test_a_port_in_use_is_one_line_and_exit_78(
    tmp_path: Path, rules_path: Path, setting: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = daemon_env(tmp_path / "data", rules_path, **{setting: f"127.0.0.1:{port}"})
        result = run_cli(env, tmp_path, "run")
    stderr = result.stderr.decode()
    assert result.returncode == EX_CONFIG, stderr
    assert "Traceback" not in stderr
    (line,) = [x for x in stderr.splitlines() if "cannot start" in x]
    channel = "LMTP" if "LMTP" in setting else "SMTP"
    assert line == (
        f"smartmail: cannot start: {channel} cannot listen on 127.0.0.1:{port}: "
        "Address already in use"
    )


def test_listen_off_leaves_lmtp_alone(tmp_path: Path, rules_path: Path, sink: Sink) -> None:
    env = daemon_env(
        tmp_path / "data",
        rules_path,
        SMARTMAIL_LISTEN="off",
        SMARTMAIL_LMTP_LISTEN="127.0.0.1:0",
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}",
    )
    daemon = start_daemon(env, tmp_path)
    try:
        assert "no SMTP listener (SMARTMAIL_LISTEN=off)" in "".join(daemon.log)
        assert not any("SMTP listening" in line for line in daemon.log)
        mail = EmailMessage()
        mail["From"], mail["To"] = "eva@kund.example", "felanmalan@bostad.example"
        mail["Subject"] = "Stopp i avloppet"
        mail.set_content("Det luktar.")
        assert daemon.lmtp_port is not None
        with smtplib.LMTP("127.0.0.1", daemon.lmtp_port, timeout=30) as lmtp:
            lmtp.send_message(mail)
        assert daemon.case(1)["subject"] == "Stopp i avloppet"
    finally:
        daemon.stop()


def test_a_command_in_the_wrong_place_says_where_it_looked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTMAIL_")}
    result = run_cli(env, tmp_path, "case", "list")
    stderr = result.stderr.decode()
    assert result.returncode == EX_CONFIG, stderr
    assert f"no data dir at {tmp_path / 'data'} (SMARTMAIL_DATA_DIR)" in stderr
    assert f"no rules file at {tmp_path / 'rules.yaml'} (SMARTMAIL_RULES)" in stderr
    assert list(tmp_path.iterdir()) == []  # no empty database, no data dir, no secret
    # `ingest` says "try again" to the MTA instead: the mail is not lost.
    assert run_cli(env, tmp_path, "ingest", input=b"Subject: x\n\nx\n").returncode == 75


def test_a_new_data_dir_next_to_a_rules_file_is_made(tmp_path: Path, rules_path: Path) -> None:
    env = daemon_env(tmp_path / "new-data", rules_path)
    result = run_cli(env, tmp_path, "case", "list")
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "new-data" / "smartmail.db").exists()
