"""The ingest benchmark still runs and its checks hold (its figures are not judged here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest.py"


def test_the_ingest_benchmark_runs_every_phase_and_its_checks_hold() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--mails", "24", "--clients", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    checks = [line for line in run.stdout.splitlines() if line.startswith("check ")]
    floors = [line for line in checks if line.startswith("check floor")]
    phases = [line for line in checks if line not in floors]
    # next to each in-process phase; before and after SMTP, bare and over SMTP
    assert len(floors) == 6
    assert len(phases) == 4  # in-process, grouped, SMTP, SMTP with weekly reports meanwhile
    for line in floors:
        assert "24 rows (ok)" in line, line
        assert "over SMTP" not in line or "0 failed" in line, line
    assert "MISMATCH" not in run.stdout
    for line in phases:  # every mail on the case it belongs to
        assert "new_case=12 reply=12, 0 on an unexpected case" in line, line
    queued, sent = re.findall(r"(\d+) outbox rows \((\d+) sent\)", phases[2])[0]
    assert queued == sent  # the SMTP phase's daemon delivered its whole outbox
    assert re.search(
        r"check SMTP, weekly reports meanwhile: [1-9]\d* weekly report sweeps", run.stdout
    )
    for phase in (
        "pipeline in-process",
        "pipeline, 8 per commit",
        "floor over SMTP",
        "SMTP, 3 clients",
        "SMTP, 3 clients, reports",
        "SMTP against the floor over SMTP",
    ):
        assert any(line.startswith(phase) for line in run.stdout.splitlines()), phase
