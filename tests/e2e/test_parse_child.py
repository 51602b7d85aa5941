"""A real daemon under a burst: mail is parsed in the daemon's child process, every mail
becomes its case as it would have, and no mail is lost when the child dies; the child goes
with the daemon."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon

pytestmark = pytest.mark.e2e

DESK = "felanmalan@bostad.example"
CLIENTS = 8


def _mail(sender: str, number: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Kund Nummer {number} <{sender}>"
    msg["To"] = DESK
    msg["Subject"] = f"Fläkten i badrummet lgh {1000 + number} låter"
    msg["Message-ID"] = make_msgid(domain="kund.example")
    msg.set_content(f"Hej!\n\nFläkten i lägenhet {1000 + number} låter högt.\n\nMvh\n")
    if number % 3 == 0:
        msg.add_attachment(bytes(range(256)) * 20, "image", "png", filename=f"fläkt{number}.png")
    return msg.as_bytes(policy=SMTP)  # CRLF, as on the wire


def _burst(daemon: RunningDaemon, first: int, per_client: int) -> list[bytes]:
    """CLIENTS connections at once, each sending its mails one after the other."""
    replies: list[bytes] = []

    def client(index: int) -> None:
        with smtplib.SMTP("127.0.0.1", daemon.port, timeout=60) as smtp:
            smtp.ehlo()
            for k in range(per_client):
                number = first + index * per_client + k
                sender = f"kund{number}@kund.example"
                smtp.mail(sender)
                smtp.rcpt(DESK)
                code, reply = smtp.data(_mail(sender, number))
                assert code == 250, reply
                replies.append(reply)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return replies


def _child_pid(daemon: RunningDaemon) -> int | None:
    for line in daemon.log:
        found = re.search(r"parsing mail in a child process \(pid (\d+)\)", line)
        if found:
            return int(found[1])
    return None


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _wait_for(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_burst_is_parsed_in_the_child_and_every_mail_is_its_case(
    daemon: RunningDaemon, sink: Sink
) -> None:
    _wait_for(lambda: _child_pid(daemon) is not None)  # started with the daemon
    pid = _child_pid(daemon)
    assert pid is not None
    started = _cpu_ticks(pid)
    replies = _burst(daemon, 0, 6)
    replies += _burst(daemon, 48, 6)
    assert _cpu_ticks(pid) > started + 3  # it parsed (ticks are 10 ms)

    assert sorted({reply.split()[1] for reply in replies}) == [b"new_case"]
    listed = json.loads(daemon.cli("case", "list", "--json").stdout)
    assert len(listed) == 48 + 48
    for case in range(60, 66):  # of the second burst: read by the child
        _read_right(daemon.case(case))


def _read_right(shown: dict[str, Any]) -> None:
    """The case has the subject, sender, text and attachment its mail was sent with."""
    assert shown["subject"].startswith("Fläkten i badrummet lgh")
    number = int(shown["subject"].split("lgh ")[1].split()[0]) - 1000
    assert shown["customer"] == f"kund{number}@kund.example"
    (first, *_answers) = shown["messages"]
    assert f"Fläkten i lägenhet {1000 + number} låter högt." in first["text"]
    files = [(a["filename"], a["size"]) for a in first["attachments"]]
    assert files == ([(f"fläkt{number}.png", 256 * 20)] if number % 3 == 0 else [])


def test_a_child_that_dies_costs_no_mail_and_goes_with_the_daemon(
    daemon: RunningDaemon, sink: Sink
) -> None:
    _wait_for(lambda: _child_pid(daemon) is not None)
    pid = _child_pid(daemon)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    replies = _burst(daemon, 0, 6)  # parsed in the writer again
    assert sorted({reply.split()[1] for reply in replies}) == [b"new_case"]
    _wait_for(lambda: any("parsing process ended" in line for line in daemon.log))
    assert len(json.loads(daemon.cli("case", "list", "--json").stdout)) == 48
    for case in (1, 24, 48):
        _read_right(daemon.case(case))

    # none left once the daemon stopped
    daemon.stop()
    assert daemon.process.returncode == 0
    assert not Path(f"/proc/{pid}").exists()
    later = [int(p) for p in re.findall(r"child process \(pid (\d+)\)", "".join(daemon.log))]
    for child in later:
        assert not Path(f"/proc/{child}").exists(), "a parsing child outlived the daemon"


def test_the_child_ends_by_itself_when_the_daemon_is_killed(daemon: RunningDaemon) -> None:
    _wait_for(lambda: _child_pid(daemon) is not None)
    pid = _child_pid(daemon)
    assert pid is not None
    daemon.process.kill()  # no stop: the child reads end-of-file and ends
    daemon.process.wait(10)
    _wait_for(lambda: not Path(f"/proc/{pid}").exists() or _state(pid) == "Z")


def _state(pid: int) -> str:
    """A process's state letter ("Z": ended, not reaped yet by init)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"
