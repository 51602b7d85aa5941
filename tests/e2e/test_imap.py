"""IMAP intake against a real Dovecot: IDLE, bursts, a killed daemon, a restarting server.

Every mail must end as exactly one case or message and leave the inbox for the processed
folder; nothing is lost, doubled or deleted.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from imapclient import DELETED, SEEN

from smartmail.config import parse_imap_url
from smartmail.errors import TemporaryFailure
from smartmail.inbound.imap import Capabilities, Folders, MailboxWatcher
from smartmail.pipeline.envelope import Envelope, Outcome
from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon, daemon_env, run_cli, start_daemon
from tests.e2e.dovecot import Dovecot, running_dovecot
from tests.e2e.mailing import new_mail

pytestmark = pytest.mark.e2e

DESK = "felanmalan@bostad.example"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture
def user() -> str:
    """A fresh IMAP user: an empty mailbox for every test."""
    return "desk" + secrets.token_hex(4)


@pytest.fixture
def env(
    tmp_path: Path, rules_path: Path, sink: Sink, dovecot: Dovecot, user: str
) -> dict[str, str]:
    return daemon_env(
        tmp_path / "data",
        rules_path,
        SMARTMAIL_IMAP=dovecot.url(user, address=DESK),
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}",
    )


@pytest.fixture
def start(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], RunningDaemon]]:
    """Start `smartmail run` and wait until its IMAP reader idles; stopped at the end."""
    started: list[RunningDaemon] = []

    def start_one() -> RunningDaemon:
        daemon = start_daemon(env, tmp_path, wait_for=": idling")
        started.append(daemon)
        return daemon

    yield start_one
    for daemon in started:
        daemon.stop()


def wait_until(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.05)


def wait_filed(dovecot: Dovecot, user: str, processed: int, failed: int = 0) -> None:
    """Until the inbox is empty and the folders hold what they should (IMAP, cheap to poll)."""

    def done() -> bool:
        counts = [dovecot.count(user, f) for f in ("INBOX", "Processed", "Failed")]
        return counts == [0, processed, failed]

    wait_until(f"{processed} processed and {failed} failed", done)


def cases(daemon: RunningDaemon) -> list[dict[str, Any]]:
    result = daemon.cli("case", "list", "--json")
    assert result.returncode == 0, result.stderr.decode()
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def log_count(daemon: RunningDaemon, text: str) -> int:
    return sum(text in line for line in list(daemon.log))


def customer_mail(n: int, **headers: str) -> EmailMessage:
    return new_mail(f"kund{n}@kund.example", f"Fråga nummer {n}", f"Hej, fråga {n}.", **headers)


def test_idle_picks_up_a_mail_and_files_it_after_the_commit(
    dovecot: Dovecot, user: str, start: Callable[[], RunningDaemon]
) -> None:
    daemon = start()
    assert log_count(daemon, "connected (IDLE)") == 1
    mail = new_mail("eva@kund.example", "Stopp i avloppet", "Det är stopp i köket.")
    dovecot.append(user, mail)

    # Polling would take 30 s: a pick-up well within that is IDLE at work.
    shown: list[bytes] = []

    def case_shown() -> bool:
        result = daemon.cli("case", "show", "1", "--json")
        shown.append(result.stdout)
        return result.returncode == 0

    wait_until("the case exists", case_shown, timeout=15)
    case = json.loads(shown[-1])
    wait_filed(dovecot, user, processed=1)
    assert case["channel"] == "mail"
    assert case["messages"][0]["channel"] == "imap"
    assert case["customer"] == "eva@kund.example"
    assert case["subject"] == "Stopp i avloppet"
    assert [m["direction"] for m in case["messages"]].count("in") == 1
    assert dovecot.message_ids(user, "Processed") == [mail["Message-ID"]]
    assert b"\\Seen" in dovecot.flags(user, "Processed")[0]

    began = time.monotonic()
    daemon.stop()
    assert time.monotonic() - began < 10
    assert daemon.process.returncode == 0
    assert log_count(daemon, ": stopped") == 1


def test_a_burst_of_fifty_becomes_the_right_cases(
    dovecot: Dovecot, user: str, start: Callable[[], RunningDaemon]
) -> None:
    daemon = start()
    first = [customer_mail(n) for n in range(44)]
    replies = [
        new_mail(
            f"kund{n}@kund.example",
            f"Re: Fråga nummer {n}",
            "Ett tillägg till min fråga.",
            In_Reply_To=str(first[n]["Message-ID"]),
            References=str(first[n]["Message-ID"]),
        )
        for n in (3, 17, 25, 40, 41, 42)
    ]
    dovecot.append(user, *first, *replies)

    wait_filed(dovecot, user, processed=50)
    listed = cases(daemon)
    assert sorted(c["subject"] for c in listed) == sorted(f"Fråga nummer {n}" for n in range(44))
    number = {c["subject"]: c["number"] for c in listed}
    with ThreadPoolExecutor(2) as pool:  # two of the replied cases; each CLI run takes a while
        shown = pool.map(daemon.case, (number["Fråga nummer 3"], number["Fråga nummer 42"]))
    for n, case in zip((3, 42), shown, strict=True):  # the reply is there, once
        texts = [m["text"] for m in case["messages"] if m["direction"] == "in"]
        assert texts == [f"Hej, fråga {n}.", "Ett tillägg till min fråga."]
    processed = dovecot.message_ids(user, "Processed")
    assert sorted(processed) == sorted(str(m["Message-ID"]) for m in (*first, *replies))


def test_a_daemon_killed_mid_burst_loses_and_doubles_nothing(
    dovecot: Dovecot, user: str, start: Callable[[], RunningDaemon]
) -> None:
    daemon = start()
    mails = [customer_mail(n) for n in range(30)]
    dovecot.append(user, *mails)
    wait_until("some mail is filed", lambda: dovecot.count(user, "Processed") >= 5)
    daemon.process.kill()
    daemon.process.wait()
    left = dovecot.count(user, "INBOX")
    assert left > 0, "the burst was over before the kill; nothing was interrupted"

    again = start()
    wait_filed(dovecot, user, processed=30)
    listed = cases(again)
    assert sorted(c["subject"] for c in listed) == sorted(f"Fråga nummer {n}" for n in range(30))
    assert sorted(c["number"] for c in listed) == list(range(1, 31))
    assert sorted(dovecot.message_ids(user, "Processed")) == sorted(
        str(m["Message-ID"]) for m in mails
    )


def test_a_mail_stored_before_a_crash_is_filed_not_doubled(
    dovecot: Dovecot,
    user: str,
    env: dict[str, str],
    tmp_path: Path,
    start: Callable[[], RunningDaemon],
) -> None:
    with_id = customer_mail(1)
    without_id = customer_mail(2)
    del without_id["Message-ID"]
    dovecot.append(user, with_id, without_id)
    # As if a reader had committed both and crashed before moving them: the same bytes stored.
    for raw in dovecot.raw_mails(user, "INBOX"):
        stored = run_cli(env, tmp_path, "ingest", "--recipient", DESK, input=raw)
        assert stored.returncode == 0, stored.stderr.decode()
        assert stored.stdout.startswith(b"new_case")

    daemon = start()
    wait_filed(dovecot, user, processed=2)
    wait_until("both are logged", lambda: log_count(daemon, ": duplicate") == 2)
    assert len(cases(daemon)) == 2


def test_the_daemon_reconnects_after_a_dovecot_restart_and_a_new_uidvalidity(
    dovecot: Dovecot, user: str, start: Callable[[], RunningDaemon]
) -> None:
    daemon = start()
    dovecot.doveadm("mailbox", "update", "-u", user, "--uid-validity", "4711", "INBOX")
    dovecot.restart()
    mail = customer_mail(7)
    dovecot.append(user, mail)

    wait_filed(dovecot, user, processed=1)
    log = "".join(daemon.log)
    assert "connection lost" in log, log
    assert "to 4711; re-scanning the folder" in log, log
    wait_until("it idles again", lambda: log_count(daemon, ": idling") == 2)
    (case,) = cases(daemon)
    assert case["subject"] == "Fråga nummer 7"


def test_a_mail_it_will_never_accept_goes_to_failed_and_the_rest_goes_on(
    dovecot: Dovecot, user: str, env: dict[str, str], start: Callable[[], RunningDaemon]
) -> None:
    env["SMARTMAIL_MAX_MESSAGE_SIZE"] = "20000"
    too_big = new_mail("eva@kund.example", "Bilder", "Se bilagan.")
    too_big.add_attachment(b"x" * 30000, maintype="image", subtype="jpeg", filename="a.jpg")
    fine = customer_mail(1)
    daemon = start()
    dovecot.append(user, too_big, fine)

    wait_filed(dovecot, user, processed=1, failed=1)
    assert dovecot.message_ids(user, "Failed") == [too_big["Message-ID"]]
    assert b"\\Seen" not in dovecot.flags(user, "Failed")[0]
    assert log_count(daemon, "above SMARTMAIL_MAX_MESSAGE_SIZE") == 1
    (case,) = cases(daemon)
    assert case["subject"] == "Fråga nummer 1"


def test_an_empty_mail_goes_to_failed_and_one_with_headers_only_is_a_case(
    dovecot: Dovecot, user: str, start: Callable[[], RunningDaemon]
) -> None:
    """As over SMTP (554) and `ingest` (exit 65): no bytes but white space are no mail."""
    daemon = start()
    headers_only = b"From: eva@kund.example\r\nTo: felanmalan@bostad.example\r\nSubject: Tom\r\n"
    dovecot.append(user, b"\r\n", headers_only)

    wait_filed(dovecot, user, processed=1, failed=1)
    assert log_count(daemon, "empty mail, nothing to store") == 1
    assert [case["subject"] for case in cases(daemon)] == ["Tom"]


# -- the reader in-process, for what Dovecot's own capabilities never exercise ---------------


class Recorder:
    """Stands in for the pipeline: records each call; raises TemporaryFailure `fail` times."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[bytes, Envelope, float]] = []
        self.fail = fail

    def __call__(self, raw: bytes, envelope: Envelope) -> Outcome:
        self.calls.append((raw, envelope, time.monotonic()))
        if len(self.calls) <= self.fail:
            raise TemporaryFailure("database unavailable")
        return Outcome("new_case", "<x@kund.example>", len(self.calls))


class OldServerReader(MailboxWatcher):
    """A reader that believes the server has neither IDLE nor MOVE, only UIDPLUS."""

    def _prepare(self, client: Any) -> None:
        super()._prepare(client)
        self.caps = Capabilities(idle=False, move=False, uidplus=True)


def run_reader(reader: MailboxWatcher) -> Callable[[], None]:
    thread = threading.Thread(target=reader.run)
    thread.start()

    def stop() -> None:
        reader.stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()

    return stop


def test_without_move_it_copies_and_expunges_that_mail_only(dovecot: Dovecot, user: str) -> None:
    mail = customer_mail(1)
    dovecot.append(user, mail)
    with dovecot.client(user) as client:  # someone else's deletion, not yet expunged
        client.append("INBOX", customer_mail(2).as_bytes(), flags=[DELETED])
    recorder = Recorder()
    reader = OldServerReader(
        parse_imap_url(dovecot.url(user, address=DESK)),
        recorder,
        Folders("Processed", "Failed"),
        max_size=100_000,
        poll_seconds=0.2,
    )
    stop = run_reader(reader)
    try:
        wait_until("the mail is filed", lambda: dovecot.count(user, "Processed") == 1)
    finally:
        stop()
    (raw, envelope, _), *more = recorder.calls
    assert more == []
    assert envelope == Envelope("imap", None, (DESK,))
    assert b"Message-ID: " + str(mail["Message-ID"]).encode() in raw
    assert dovecot.message_ids(user, "Processed") == [mail["Message-ID"]]
    assert SEEN in dovecot.flags(user, "Processed")[0]
    assert DELETED not in dovecot.flags(user, "Processed")[0]
    assert dovecot.flags(user, "INBOX") == [(DELETED,)]  # left for whoever deleted it


def test_a_temporary_failure_leaves_the_mail_for_a_later_pass(dovecot: Dovecot, user: str) -> None:
    recorder = Recorder(fail=1)
    reader = MailboxWatcher(
        parse_imap_url(dovecot.url(user)),
        recorder,
        Folders("Processed", "Failed"),
        max_size=100_000,
        poll_seconds=0.5,
    )
    stop = run_reader(reader)
    try:
        dovecot.append(user, customer_mail(1))
        wait_until("the first try", lambda: len(recorder.calls) == 1)
        assert dovecot.count(user, "INBOX") == 1
        wait_until("the mail is filed", lambda: dovecot.count(user, "Processed") == 1)
    finally:
        stop()
    first, second = recorder.calls
    assert first[0] == second[0]
    assert first[1] == Envelope("imap", None, ())
    assert second[2] - first[2] >= 0.5
