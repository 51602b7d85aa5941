"""`smartmail ingest` as an MTA pipe, handing the mail to the running daemon over its socket."""

from __future__ import annotations

import shutil
import socket
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon, daemon_env, run_cli, start_daemon

pytestmark = pytest.mark.e2e

CUSTOMER = "eva.svensson@kund.example"
DESK = "felanmalan@bostad.example"


def mail(subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Eva Svensson <{CUSTOMER}>"
    msg["To"] = DESK
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="kund.example")
    msg.set_content(body)
    return msg.as_bytes().replace(b"\r\n", b"\n")  # as an MTA's pipe gives it


def inbound(daemon: RunningDaemon, number: int) -> list[dict[str, object]]:
    return [m for m in daemon.case(number)["messages"] if m["direction"] == "in"]


def cases_stored(daemon: RunningDaemon) -> int:
    listing = daemon.cli("case", "list", "--json")
    return listing.stdout.count(b'"number"')


def test_the_daemon_stores_a_piped_mail_once_and_answers_as_ingest_does(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
    assert (tmp_path / "data" / "ingest.sock").is_socket()
    raw = mail("Trasig dörr", "Dörren går inte att låsa.\n.en rad med punkt först\n")
    # A database this process cannot open: only the daemon can have stored it.
    pipe_only = {**daemon.env, "SMARTMAIL_DATABASE_URL": "sqlite:////nonexistent/no.db"}
    args = ("ingest", "-", "--sender", CUSTOMER, "--recipient", DESK)
    stored = run_cli(pipe_only, daemon.cwd, *args, input=raw)
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout.startswith(b"new_case case 1 <")
    again = daemon.cli("ingest", "-", input=raw)  # the MTA tried again: still one mail
    assert again.returncode == 0
    assert again.stdout.startswith(b"duplicate <")
    messages = inbound(daemon, 1)
    assert len(messages) == 1
    assert messages[0]["channel"] == "ingest"
    assert ".en rad med punkt först" in str(messages[0]["text"])  # dot-stuffing undone
    assert cases_stored(daemon) == 1


def test_the_envelope_crosses_as_given_unknown_sender_and_no_recipient_included(
    daemon: RunningDaemon,
) -> None:
    no_from = b"To: " + DESK.encode() + b"\nSubject: Utan avsandare\n\nHej.\n"
    stored = daemon.cli("ingest", "-", "--sender", CUSTOMER, input=no_from)
    assert stored.returncode == 0, stored.stderr
    assert daemon.case(1)["customer"] == CUSTOMER  # the envelope sender, as in-process
    bare = mail("Inget kuvert", "Varken avsändare eller mottagare från MTA:n.")
    assert daemon.cli("ingest", "-", input=bare).returncode == 0
    assert daemon.case(2)["customer"] == CUSTOMER


def test_each_exit_code_through_the_daemon(daemon: RunningDaemon, tmp_path: Path) -> None:
    assert daemon.cli("ingest", "-", input=b"").returncode == 65
    assert daemon.cli("ingest", "-", input=b"\n\n").returncode == 65
    assert daemon.cli("ingest", str(tmp_path / "nonexistent.eml")).returncode == 66
    # Attachments cannot be written: the daemon says 451, the pipe 75, nothing is stored.
    attachments = tmp_path / "data" / "attachments"
    shutil.rmtree(attachments, ignore_errors=True)
    attachments.write_bytes(b"not a folder")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = CUSTOMER, DESK, "Med bild"
    msg["Message-ID"] = make_msgid(domain="kund.example")
    msg.set_content("Se bilden.")
    msg.add_attachment(b"\x89PNG" + bytes(range(256)) * 40, "image", "png", filename="a.png")
    later = daemon.cli("ingest", "-", input=msg.as_bytes())
    assert later.returncode == 75, later.stderr
    assert cases_stored(daemon) == 0
    attachments.unlink()
    assert daemon.cli("ingest", "-", input=msg.as_bytes()).returncode == 0
    assert cases_stored(daemon) == 1


def test_what_lmtp_cannot_carry_unchanged_is_stored_in_process(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
    long_line = b"x" * 1500
    raw = mail("Lång rad", "Se nedan.") + long_line + b"\n"
    assert daemon.cli("ingest", "-", input=raw).returncode == 0
    assert long_line.decode() in str(inbound(daemon, 1)[0]["text"])
    hostile = daemon.cli(
        "ingest", "-", "--sender", "x>\r\nRCPT TO:<evil@evil.example", input=mail("A", "b")
    )
    assert hostile.returncode == 0, hostile.stderr
    assert cases_stored(daemon) == 2


def test_with_no_daemon_ingest_stores_the_mail_itself(
    tmp_path: Path, rules_path: Path, sink: Sink
) -> None:
    env = daemon_env(tmp_path / "data", rules_path)
    raw = mail("Ingen demon", "Ingen lyssnar på socketen.")
    stored = run_cli(env, tmp_path, "ingest", "-", "--recipient", DESK, input=raw)
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout.startswith(b"new_case case 1 ")
    # A socket a crashed daemon left behind answers no one: still stored, once.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "data" / "ingest.sock"))
    stale.close()
    again = run_cli(env, tmp_path, "ingest", "-", input=raw)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(b"duplicate ")
    assert run_cli(env, tmp_path, "ingest", "-", input=b"").returncode == 65
    # A daemon started now takes the stale socket's place and removes it when it stops.
    running = start_daemon(env, tmp_path)
    try:
        assert running.cli("ingest", "-", input=mail("Nu", "Nu lyssnar den.")).returncode == 0
    finally:
        running.stop()
    assert not (tmp_path / "data" / "ingest.sock").exists()
    assert "ingest socket at" in "".join(running.log)
