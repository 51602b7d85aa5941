"""Moving in with `smartmail import`: a real mbox, a real Maildir and a real Dovecot folder
holding threads, duplicates and a broken mail; run twice; nothing is ever sent."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import daemon_env, run_cli
from tests.e2e.dovecot import Dovecot, running_dovecot

pytestmark = pytest.mark.e2e

DESK = "felanmalan@bostad.example"
EVA = "eva@kund.example"
OLLE = "olle@kund.example"
STINA = "stina@kund.example"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime.now(UTC)  # the mails' dates are this far in the past, whenever it runs
# Garbage in every header and part: it is stored, not lost, and it stops nothing.
BROKEN = (
    b"From: \xff\xfe <<broken\r\nSubject: =?utf-8?B?trasig?=\xe5\r\n"
    b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
    b"--x\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n\xe5\xe4\xf6 trasigt\r\n"
)


def mail(sender: str, to: str, subject: str, body: str, days_ago: float, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(NOW - timedelta(days=days_ago))
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def answering(to: bytes) -> dict[str, str]:
    msgid = next(line for line in to.decode().splitlines() if line.startswith("Message-ID:"))
    value = msgid.partition(":")[2].strip()
    return {"In_Reply_To": value, "References": value}


def the_mails() -> list[bytes]:
    """Two threads (one long closed, one still going), a stranger's `Re:` to the first
    subject, the office's answers, two copies of a mail, a broken mail; out of order."""
    drain = mail(EVA, DESK, "Stopp i avloppet", "Det är stopp i avloppet i köket.", 60)
    answer = mail(DESK, EVA, "Re: Stopp i avloppet", "Vi kommer i morgon.", 59, **answering(drain))
    thanks = mail(EVA, DESK, "SV: Stopp i avloppet", "Tack, nu rinner det!", 58)
    stranger = mail(OLLE, DESK, "Re: Stopp i avloppet", "Hos mig med, i badrummet.", 50)
    lift = mail(STINA, DESK, "Hissen står still", "Hissen i hus B har stannat.", 3)
    lift_answer = mail(
        DESK, STINA, "Re: Hissen står still", "Teknikern kommer.", 2, **answering(lift)
    )
    still = mail(
        STINA, DESK, "Re: Hissen står still", "Den står still än.", 1, **answering(lift_answer)
    )
    again = b"X-Copied: the same mail in another folder\r\n" + thanks  # a second copy
    return [still, thanks, drain, BROKEN, lift, answer, again, stranger, lift_answer, drain]


def as_mbox(tmp_path: Path, mails: list[bytes]) -> str:
    box = mailbox.mbox(tmp_path / "old.mbox")
    for raw in mails:
        box.add(raw)
    box.close()
    return str(tmp_path / "old.mbox")


def as_maildir(tmp_path: Path, mails: list[bytes]) -> str:
    box = mailbox.Maildir(tmp_path / "Maildir")
    for raw in mails:
        box.add(raw)
    return str(tmp_path / "Maildir")


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture(params=["mbox", "maildir", "imap"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    mails = the_mails()
    if request.param == "mbox":
        yield as_mbox(tmp_path, mails)
    elif request.param == "maildir":
        yield as_maildir(tmp_path, mails)
    else:
        server: Dovecot = request.getfixturevalue("dovecot")
        user = f"shared{tmp_path.name[-8:].replace('_', '')}"
        server.append(user, *mails, folder="INBOX")
        yield server.url(user, "INBOX")
        assert server.count(user, "INBOX") == len(mails)  # the folder is as it was
        assert all(b"\\Seen" not in flags for flags in server.flags(user, "INBOX"))


def cli_json(env: dict[str, str], cwd: Path, *args: str) -> Any:
    done = run_cli(env, cwd, *args, "--json")
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def a_quiet_night_later() -> datetime:
    """03:00 local on the next Sunday: no digest or report is due, every deadline is."""
    day = (NOW.astimezone(STOCKHOLM) + timedelta(days=1)).date()
    while day.weekday() != 6:
        day += timedelta(days=1)
    return datetime.combine(day, time(3), STOCKHOLM)


def test_a_mailbox_moves_in_once_and_nothing_is_sent(
    source: str, tmp_path: Path, rules_path: Path, sink: Sink
) -> None:
    env = daemon_env(
        tmp_path / "data", rules_path, SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}"
    )
    first = run_cli(env, tmp_path, "import", source)
    assert first.returncode == 0, first.stderr.decode()
    summary = first.stdout.decode()
    assert "imported 10 mails: cases 4, messages 2, answers 2, duplicates skipped 2" in summary
    assert "quarantined 0, refused 0" in summary
    assert "closed 2 cases" in summary
    assert "duplicates skipped" in first.stderr.decode()  # the progress bar counts as it goes

    listed = cli_json(env, tmp_path, "case", "list")
    by_customer = {case["customer"]: case for case in listed}
    assert len(listed) == 4
    drain = cli_json(env, tmp_path, "case", "show", str(by_customer[EVA]["number"]))
    assert drain["status"] == "closed"
    messages = [(m["direction"], m["from"], m["visibility"]) for m in drain["messages"]]
    assert messages == [("in", EVA, "public"), ("out", DESK, "public"), ("in", EVA, "public")]
    assert drain["messages"][2]["thread_signal"] == "subject"
    assert all(m["channel"] == "import" for m in drain["messages"])
    assert drain["first_response_at"] == drain["messages"][1]["at"]
    assert drain["closed_at"] == drain["messages"][2]["at"]  # closed as of its last mail
    assert drain["created_at"].startswith(f"{NOW - timedelta(days=60):%Y-%m-%d}")
    assert by_customer[OLLE]["status"] == "closed"  # a stranger's Re: is a case of its own
    lift = cli_json(env, tmp_path, "case", "show", str(by_customer[STINA]["number"]))
    assert lift["status"] == "assigned"  # open, routed and owned
    assert lift["assignee"]
    assert [m["direction"] for m in lift["messages"]] == ["in", "out", "in"]
    broken = next(
        case for customer, case in by_customer.items() if customer not in (EVA, OLLE, STINA)
    )
    assert broken["status"] == "assigned"  # a mail of today's date stays open

    again = run_cli(env, tmp_path, "import", source)
    assert again.returncode == 0, again.stderr.decode()
    assert "cases 0, messages 0, answers 0, duplicates skipped 10" in again.stdout.decode()
    assert cli_json(env, tmp_path, "case", "list") == listed

    swept = run_cli(env, tmp_path, "sweep", "--now", a_quiet_night_later().isoformat())
    assert swept.returncode == 0, swept.stderr.decode()
    assert "reminders 0, escalations 0" in swept.stdout.decode()
    assert sink.messages == []  # no acknowledgement, notice, reminder or escalation


def test_a_path_that_is_no_mailbox_says_so(tmp_path: Path, rules_path: Path) -> None:
    env = daemon_env(tmp_path / "data", rules_path)
    (tmp_path / "folder").mkdir()
    for where in (tmp_path / "nothing.mbox", tmp_path / "folder"):
        done = run_cli(env, tmp_path, "import", str(where))
        assert done.returncode == 66
        assert str(where) in done.stderr.decode()


def test_an_imap_folder_that_is_not_there_says_so(
    dovecot: Dovecot, tmp_path: Path, rules_path: Path
) -> None:
    env = daemon_env(tmp_path / "data", rules_path)
    done = run_cli(env, tmp_path, "import", dovecot.url("nobody", "Arkiv/Saknas"))
    assert done.returncode == 66
    assert "cannot read the mailbox" in done.stderr.decode()
    assert "test-password" not in done.stderr.decode()  # the password stays out of it
