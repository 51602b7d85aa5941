"""The running daemon most end-to-end tests talk to: SMTP in, the sink as its relay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon, daemon_env, start_daemon


@pytest.fixture
def daemon(tmp_path: Path, rules_path: Path, sink: Sink) -> Iterator[RunningDaemon]:
    env = daemon_env(
        tmp_path / "data", rules_path, SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}"
    )
    running = start_daemon(env, tmp_path)
    try:
        yield running
    finally:
        running.stop()
