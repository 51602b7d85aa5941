"""Pipe benchmark: `smartmail ingest` as an MTA starts it, one process per mail.

    .venv/bin/python bench/pipe.py [--mails 100] [--baseline 20] [--seed 1]

The real daemon (`smartmail run`) on a fresh data dir; `--mails` generated mails (mails.py)
each piped to a new `smartmail ingest -` process, one after another, as Postfix's `pipe`
does. Each pipe is timed from start to exit (wall) and by the CPU its process used. The
figures are compared with, in the same run:

- floor: a process of the same interpreter that does nothing (`python -c pass`), run
  after each pipe, so the machine's drift is in both;
- in-process, no daemon: `smartmail ingest` with the daemon stopped (it stores the mail
  itself, loading only what that needs), `--baseline` mails;
- before: the same mails through `smartmail.cli.main(["ingest", ...])`, the command as it
  was, loading the whole `smartmail` command (daemon, clock, charts);
- imports: the time to import `smartmail.ingest` (the in-process path) and
  `smartmail.cli` (the whole command), median of 5 fresh processes each.

A check line says every pipe exited 0 and the database holds each mail once. No figure
is judged here; `tests/e2e/test_ingest_socket.py` tests what the pipe does.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mails import generate

RULES = Path(__file__).resolve().parent.parent / "rules.yaml"
SECRET = "bench-secret"
COMMAND = Path(sys.executable).with_name("smartmail")
BEFORE = "import sys; from smartmail.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class Runs:
    """Wall and CPU seconds of each process run, and their exit codes."""

    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)

    def run(self, argv: list[str], env: dict[str, str], cwd: Path, data: bytes = b"") -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, input=data, env=env, cwd=cwd, capture_output=True, check=False)
        self.wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        self.codes.append(done.returncode)

    def line(self, floor: Runs | None = None) -> str:
        wall, cpu = statistics.median(self.wall), statistics.median(self.cpu)
        p90 = sorted(self.wall)[int(0.9 * (len(self.wall) - 1))]
        ratio = f"{wall / statistics.median(floor.wall):6.1f}x floor" if floor else " " * 13
        return (
            f"{self.name:<34} {len(self.wall):>4}  {1000 * wall:8.1f} ms  p90 {1000 * p90:8.1f}"
            f" ms  cpu {1000 * cpu:8.1f} ms  {ratio}"
        )


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTMAIL_")}
    env.update(
        SMARTMAIL_DATA_DIR=str(data_dir),
        SMARTMAIL_RULES=str(RULES),
        SMARTMAIL_LISTEN="127.0.0.1:0",
        SMARTMAIL_SECRET=SECRET,
        SMARTMAIL_LOG_LEVEL="WARNING",
    )
    return env


def start_daemon(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    daemon = subprocess.Popen(
        [str(COMMAND), "run"],
        env={**env, "SMARTMAIL_LOG_LEVEL": "INFO"},
        cwd=cwd,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert daemon.stderr is not None
    for line in daemon.stderr:
        if "SMTP listening on" in line:
            return daemon
    raise SystemExit("the daemon did not start")


def stored(data_dir: Path) -> tuple[int, int]:
    """Inbound messages and cases in the database."""
    with sqlite3.connect(data_dir / "smartmail.db") as db:
        messages = db.execute("SELECT count(*) FROM message WHERE direction = 'in'").fetchone()
        cases = db.execute("SELECT count(*) FROM 'case'").fetchone()
    return messages[0], cases[0]


def imports(module: str, env: dict[str, str], cwd: Path) -> Runs:
    runs = Runs(f"import {module}")
    for _ in range(5):
        runs.run([sys.executable, "-c", f"import {module}"], env, cwd)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mails", type=int, default=100)
    parser.add_argument("--baseline", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    mails = [m.raw for m in generate(args.mails + 2 * args.baseline, args.seed, SECRET.encode())]
    floor, piped = Runs("floor (python -c pass)"), Runs("ingest, daemon running")
    alone, before = Runs("ingest, no daemon (in-process)"), Runs("before: cli.main ingest")
    with tempfile.TemporaryDirectory(prefix="smartmail-pipe-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        env = environment(data_dir)
        daemon = start_daemon(env, root)
        try:
            for raw in mails[: args.mails]:
                piped.run([str(COMMAND), "ingest", "-"], env, root, raw)
                floor.run([sys.executable, "-c", "pass"], env, root)
        finally:
            daemon.terminate()
            daemon.wait()
        for raw in mails[args.mails : args.mails + args.baseline]:
            alone.run([str(COMMAND), "ingest", "-"], env, root, raw)
            floor.run([sys.executable, "-c", "pass"], env, root)
        for raw in mails[args.mails + args.baseline :]:
            before.run([sys.executable, "-c", BEFORE, "ingest", "-"], env, root, raw)
            floor.run([sys.executable, "-c", "pass"], env, root)
        light, whole = imports("smartmail.ingest", env, root), imports("smartmail.cli", env, root)
        messages, cases = stored(data_dir)
    runs = [piped, alone, before]
    failed = sum(code != 0 for r in runs for code in r.codes)
    print(f"{'':<34} runs  median wall      p90 wall        median cpu")
    print(floor.line())
    print("\n".join(r.line(floor) for r in [*runs, light, whole]))
    print(
        f"imports: the in-process path loads {statistics.median(light.wall) * 1000:.0f} ms of"
        f" modules where the whole command loaded {statistics.median(whole.wall) * 1000:.0f} ms"
    )
    check = "ok" if failed == 0 and messages == len(mails) else "FAILED"
    print(
        f"check: {failed} pipes failed; {messages} inbound messages stored for {len(mails)}"
        f" mails piped, {cases} cases: {check}"
    )
    return 0 if check == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
