"""The import benchmark still runs and its checks hold (its figures are not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "import.py"


def test_the_import_benchmark_runs_and_its_checks_hold() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--mails", "30"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    checks = [line for line in lines if line.startswith("check ")]
    assert checks[0] == "check floor, before: 30 rows"
    assert checks[2] == "check floor, after: 30 rows"
    assert "cases 15, messages 15, answers 0, duplicates skipped 0" in checks[1]
    assert "15 cases (expected 15: ok), 30 inbound messages, 0 outbox rows" in checks[1]
    assert "cases 0, messages 0, answers 0, duplicates skipped 30" in checks[3]
    assert any(line.startswith("30 mails imported in ") for line in lines)
    assert "MISMATCH" not in run.stdout
