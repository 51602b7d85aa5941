"""Run the real `smartmail` command: the daemon in a subprocess, one-shot commands to completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunningDaemon:
    process: subprocess.Popen[str]
    env: dict[str, str]
    cwd: Path
    port: int
    lmtp_port: int | None = None
    log: list[str] = field(default_factory=list)
    drainer: threading.Thread | None = None

    def cli(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return run_cli(self.env, self.cwd, *args, input=input)

    def case(self, number: int) -> dict[str, Any]:
        result = self.cli("case", "show", str(number), "--json")
        assert result.returncode == 0, result.stderr.decode()
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.drainer is not None:
            self.drainer.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()


def run_cli(
    env: dict[str, str], cwd: Path, *args: str, input: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "smartmail", *args],
        env=env,
        cwd=cwd,
        input=input,
        capture_output=True,
        timeout=60,
        check=False,
    )


def start_daemon(env: dict[str, str], cwd: Path, wait_for: str | None = None) -> RunningDaemon:
    """Start `smartmail run` and wait until its listeners say where they are.

    With `wait_for`, also wait for a log line containing it (e.g. an IMAP reader idling).
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "smartmail", "run"],
        env=env,
        cwd=cwd,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    ports: dict[str, int] = {}
    log: list[str] = []
    expected = {"SMTP"} if env.get("SMARTMAIL_LISTEN") != "off" else set()
    expected |= {"LMTP"} if env.get("SMARTMAIL_LMTP_LISTEN") else set()
    waiting = wait_for is not None
    # A line that never comes (e.g. a mailbox it cannot reach) must fail the test, not hang it.
    watchdog = threading.Timer(30, process.kill)
    if waiting:
        watchdog.start()
    for line in process.stderr:
        log.append(line)
        if " listening on " in line:
            channel = line.split(" listening on ")[0].rsplit(" ", 1)[-1]
            ports[channel] = int(line.rsplit(":", 1)[-1])
        waiting = waiting and wait_for not in line
        if expected <= ports.keys() and not waiting:
            break
    else:
        process.wait()
        process.stderr.close()
        raise AssertionError(
            f"the daemon stopped before {wait_for or 'listening'}:\n" + "".join(log)
        )
    watchdog.cancel()
    daemon = RunningDaemon(process, env, cwd, ports.get("SMTP", 0), ports.get("LMTP"), log)

    def drain() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            daemon.log.append(line)

    daemon.drainer = threading.Thread(target=drain, daemon=True)
    daemon.drainer.start()
    return daemon


def daemon_env(data_dir: Path, rules: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTMAIL_")}
    env.update(
        {
            "SMARTMAIL_DATA_DIR": str(data_dir),
            "SMARTMAIL_RULES": str(rules),
            "SMARTMAIL_LISTEN": "127.0.0.1:0",
            "SMARTMAIL_SECRET": "e2e-secret",
            **extra,  # may set any of the above
        }
    )
    return env
