"""A daemon killed with SIGKILL while it sends: the crash benchmark with a few kills.

`bench/crash_resend.py` starts the real daemon with a relay that takes a moment per mail,
mails it new cases over SMTP, kills it while it sends, and after the last kill lets a
fresh daemon send the rest; it counts what the relay took twice per Message-ID. The
bench runs 20 kills; here a few keep the suite fast.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "crash_resend.py"


def crash(*options: str) -> str:
    run = subprocess.run(
        [sys.executable, str(BENCH), *options],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def figures(out: str) -> dict[str, str]:
    return {line[:19].strip(): line[19:].strip() for line in out.splitlines()}


def test_each_kill_repeats_at_most_the_mail_in_flight_and_nothing_is_held_back() -> None:
    out = crash("--kills", "3", "--drain", "60")
    found = figures(out)
    duplicates = int(found["duplicates"].split()[0])
    assert duplicates <= 3, out
    assert "(most after one kill: 0)" in found["duplicates"] or "kill: 1)" in found["duplicates"]
    assert found["lost"] == "0, still queued 0", out
    assert found["mails in"] == "18"
    assert "distinct" in found["taken by the relay"]
    assert out.splitlines()[-1].endswith(": ok"), out


def test_on_postgresql_too(postgres_url: str) -> None:  # noqa: F811
    out = crash("--kills", "2", "--drain", "60", "--database-url", postgres_url)
    found = figures(out)
    assert int(found["duplicates"].split()[0]) <= 2, out
    assert found["lost"] == "0, still queued 0", out
    assert out.splitlines()[-1].endswith(": ok"), out
