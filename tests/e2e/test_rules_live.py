"""rules.yaml in a running daemon: reload on change and SIGHUP, last good rules on error."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon
from tests.e2e.mailing import new_mail, send

pytestmark = pytest.mark.e2e

ANNA = "anna@bostad.example"
WARNING = "de senaste fungerande reglerna gäller"


def wait_for_log(daemon: RunningDaemon, text: str) -> None:
    """The daemon's own log is the signal that it acted (polled, not slept on)."""
    end = time.monotonic() + 15
    while time.monotonic() < end:
        if any(text in line for line in daemon.log):
            return
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in the log:\n" + "".join(daemon.log[-20:]))


def test_a_broken_edit_keeps_the_last_good_rules_and_managers_hear_once(
    daemon: RunningDaemon, sink: Sink, rules_path: Path
) -> None:
    good = rules_path.read_text()
    rules_path.write_text(good.replace("priority: akut", "priority: bråttom"))
    os.kill(daemon.process.pid, signal.SIGHUP)
    (warning,) = sink.wait_to(ANNA, 1, subject=WARNING)
    body = warning.get_content()
    assert "rules.yaml:" in body
    assert "categories[0].groups[0].priority" in body
    assert "bråttom" in body

    send(daemon.port, new_mail("eva@kund.example", "Stopp i avloppet", "Stopp i köket."))
    sink.wait_to("eva@kund.example", 1)
    assert daemon.case(1)["priority"] == "akut"  # the last good rules still route
    os.kill(daemon.process.pid, signal.SIGHUP)  # the same broken file again: no new mail

    rules_path.write_text(good.replace("resolve_within: 24h", "resolve_within: 12h"))
    os.kill(daemon.process.pid, signal.SIGHUP)
    wait_for_log(daemon, "rules reloaded")
    send(daemon.port, new_mail("eva@kund.example", "Stopp igen", "Stopp i badrummet."))
    sink.wait_to("eva@kund.example", 2)
    first, second = daemon.case(1), daemon.case(2)
    assert first["due_at"] > second["due_at"]  # 24 h then 12 h from about the same time
    assert len(sink.to(ANNA, WARNING)) == 1, "".join(daemon.log)
