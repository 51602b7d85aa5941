"""The parsing child: the same ParsedMail as `parse` here, and the writer parses whenever
the child cannot (too large, not running, gone, stopped)."""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from smartmail.mail.parse import parse
from smartmail.pipeline.parse_child import ParseChild

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mail"


def _with_attachment() -> bytes:
    mail = EmailMessage()
    mail["From"] = "Åsa Öberg <asa@kund.example>"
    mail["To"] = "felanmalan@bostad.example"
    mail["Subject"] = "Stopp i avloppet, lgh 1102"
    mail["Message-ID"] = "<stopp-1102@kund.example>"
    mail.set_content("Hej!\n\nDet är stopp i avloppet i köket.\n\n/Åsa\n070-123 45 67\n")
    mail.add_attachment(
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "image", "png", filename="avlopp.png"
    )
    return mail.as_bytes()


@pytest.fixture
def child() -> Iterator[ParseChild]:
    started = ParseChild()
    assert started.start()
    yield started
    started.stop()


@pytest.mark.parametrize(
    "raw",
    [
        _with_attachment(),
        b"",  # no mail at all still parses to something
        b"Subject: only headers\r\n\r\n",
        *(path.read_bytes() for path in sorted(FIXTURES.glob("*.eml"))),
    ],
    ids=lambda raw: raw[:24].decode("ascii", "replace"),
)
def test_the_child_parses_as_the_writer_would(child: ParseChild, raw: bytes) -> None:
    assert child.parse(raw, "bounce@kund.example") == parse(raw, "bounce@kund.example")


def test_mail_too_large_for_the_child_is_left_to_the_writer(child: ParseChild) -> None:
    small = ParseChild(largest=100)
    small.process, small.pipe = child.process, child.pipe  # a running child, a lower limit
    assert small.parse(b"Subject: x\r\n\r\n" + b"a" * 100, None) is None
    assert small.parse(b"Subject: x\r\n\r\nshort", None) is not None


def test_a_child_that_died_is_started_again_later(
    child: ParseChild, caplog: pytest.LogCaptureFixture
) -> None:
    raw = _with_attachment()
    assert child.process is not None
    os.kill(child.process.pid, signal.SIGKILL)
    child.process.wait(10)
    with caplog.at_level(logging.WARNING, "smartmail.pipeline.parse_child"):
        assert child.parse(raw, None) is None  # this mail: parsed in the writer
    assert "parsing process ended" in caplog.text
    assert child.pipe is None
    assert child.parse(raw, None) is None  # too soon after the last start: not again yet
    assert child.pipe is None
    child.next_start = time.monotonic()  # a minute later
    assert child.parse(raw, None) == parse(raw)
    assert child.pipe is not None


def test_the_child_ignores_the_signals_that_stop_the_daemon(child: ParseChild) -> None:
    assert child.process is not None
    os.kill(child.process.pid, signal.SIGTERM)  # systemd signals the whole service
    os.kill(child.process.pid, signal.SIGINT)  # Ctrl-C, the whole process group
    raw = _with_attachment()
    assert child.parse(raw, None) == parse(raw)


def test_a_stopped_child_ends_and_is_not_started_again(child: ParseChild) -> None:
    process = child.process
    child.stop()
    assert process is not None
    assert process.poll() is not None  # ended, and reaped
    assert process.returncode == 0
    child.next_start = 0.0
    assert child.parse(b"Subject: x\r\n\r\n", None) is None
    assert child.process is None
    assert not child.start()


def test_a_child_that_cannot_start_leaves_the_parsing_to_the_writer(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("smartmail.pipeline.parse_child.START_WAIT", 0.0)  # never ready in time
    child = ParseChild()
    with caplog.at_level(logging.WARNING, "smartmail.pipeline.parse_child"):
        assert not child.start()
    assert "could not start the parsing process" in caplog.text
    assert child.pipe is None
    assert child.parse(b"Subject: x\r\n\r\n", None) is None


def test_a_child_that_does_not_answer_in_time_is_replaced(
    child: ParseChild, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A mail that sends the parser into a loop: the writer has parsed it long before, and
    the child is killed rather than left to hold up every mail after it."""
    process = child.process
    assert process is not None
    monkeypatch.setattr("smartmail.pipeline.parse_child.PARSE_WAIT", 0.0)  # nothing is in time
    with caplog.at_level(logging.WARNING, "smartmail.pipeline.parse_child"):
        assert child.parse(_with_attachment(), None) is None
    assert "took over" in caplog.text
    assert process.poll() is not None  # killed, and reaped
    assert child.pipe is None


def test_what_is_asked_after_the_stop_is_answered_none_at_once(child: ParseChild) -> None:
    child.stop()
    assert child.ask(_with_attachment(), None).result(timeout=0) is None
