"""The search benchmark still builds its database and runs every search (figures not judged)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "search.py"


def test_the_search_benchmark_runs_every_search_next_to_its_floor() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--cases", "300", "--repeat", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("built 300 cases")
    assert sum(line.startswith("floor: ") for line in lines) == 2
    assert sum(line.startswith("#search ") for line in lines) == 9
    assert "lgh" in run.stdout
    assert lines[-1].startswith("searches: median of medians")
