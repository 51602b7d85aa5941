"""Scale benchmark: the clock and the desk with 100,000 open cases.

    .venv/bin/python bench/scale.py [--cases 100000] [--due 0.01] [--owned 2000] [--small 10000]

Fills a fresh SQLite database with `--cases` open cases (rows written directly, as years of
mail would have left them; one customer per 20 cases), of which the share `--due` is past
its deadline (priority `akut`, its first escalation due) and the rest due in a month;
`kalle@bostad.example` owns `--owned` of them. Then, with figures from the same run next to
each other:

- sweep: the first pass as of a night-time `now` (so no digests and no weekly report:
  those are once a day and once a week) escalates the due cases; the second, a minute
  later, finds nothing due. Both are run on a database of `--small` cases with the same
  share due, so the figures say whether the work follows the due cases or all open ones;
- the desk: `case list --open --owner ... --json` (the JSON made as the command makes it)
  and `#mine` for the owner of `--owned` cases, both in this process (the command's start
  is `run` below);
- the daemon (`smartmail run` on the full database and on an empty one): the time from its
  start to the first accepted SMTP connection (220) and to the first recipient taken
  (RCPT 250), and its resident memory when idle (after its first sweep) and at its peak
  (VmHWM), with its parsing child's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from memory import children, status
from phases import DiscardTransport, make_settings, quiet_logs
from sqlalchemy import insert

from smartmail.app import App, open_app
from smartmail.clock.scheduler import sweep
from smartmail.desk import queries, views
from smartmail.store.db import transaction
from smartmail.store.models import Case, CaseParty, Party

RULES = Path(__file__).resolve().parent.parent / "rules.yaml"
OWNER = "kalle@bostad.example"
ADDRESS = "felanmalan@bostad.example"  # rules.yaml's function address
OTHERS = ["lisa@bostad.example", None]
NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)  # a Sunday night: the clock's work only
COMMAND = Path(sys.executable).with_name("smartmail")


def fill(app: App, cases: int, due_share: float, owned: int, seed: int = 1) -> int:
    """Open cases written in bulk; returns how many are due."""
    rng = random.Random(seed)
    due = set(rng.sample(range(cases), round(cases * due_share)))
    mine = set(rng.sample(range(cases), owned))
    customers = max(cases // 20, 1)
    with transaction(app.engine) as session:
        session.execute(
            insert(Party),
            [
                {"email": f"kund{i}@kund.example", "name": f"Kund {i}", "created_at": NOW}
                for i in range(customers)
            ],
        )
        rows = [_case(i, rng, i in due, i in mine, customers) for i in range(cases)]
        for start in range(0, cases, 10_000):
            session.execute(insert(Case), rows[start : start + 10_000])
        links = [
            {"case_id": i + 1, "party_id": r["customer_id"], "role": "customer"}
            for i, r in enumerate(rows)
        ]
        for start in range(0, cases, 10_000):
            session.execute(insert(CaseParty), links[start : start + 10_000])
    return len(due)


def _case(i: int, rng: random.Random, due: bool, mine: bool, customers: int) -> dict[str, Any]:
    created = NOW - timedelta(days=rng.uniform(1, 60))
    return {
        "id": i + 1,
        "subject": f"Ärende {i}: droppande kran i tvättstugan",
        "status": "assigned",
        "priority": "akut" if due else rng.choice(["normal", "lag"]),
        "category": "vvs",
        "group": "fastighet",
        "assignee": OWNER if mine else rng.choice(OTHERS),
        "customer_id": rng.randrange(customers) + 1,
        "created_at": created,
        "updated_at": created,
        "due_at": NOW - timedelta(hours=1) if due else NOW + timedelta(days=30),
        "team": "",
        "channel": "mail",
        "route_reason": "",
        "reopen_count": 0,
        "waited_seconds": 0,
        "waited_business_seconds": 0,
    }


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def sweeps(app: App) -> tuple[float, float, float, str]:
    """The first pass over cases the clock has never seen (two hours earlier: the due
    cases' reminders go out), the pass that escalates them, and one with nothing due."""
    settle, _ = timed(lambda: sweep(app, NOW - timedelta(hours=2)))
    first, report = timed(lambda: sweep(app, NOW))
    second, _ = timed(lambda: sweep(app, NOW + timedelta(minutes=1)))
    return settle, first, second, str(report)


def desk(app: App) -> tuple[float, int, float, int]:
    tz = app.rules().calendar.timezone

    def listing() -> str:
        with transaction(app.engine) as session:
            rows = owner_summaries(session)
            lines = getattr(views, "json_lines", None)  # as the command prints them
            return lines(rows) if lines else json.dumps(rows, ensure_ascii=False, indent=2)

    def mine() -> int:
        with transaction(app.engine) as session:
            return len(queries.mine(session, OWNER, "staff", NOW, tz))

    listed, text = timed(listing)
    took, lines = timed(mine)
    return listed, text.count('"number"'), took, lines


def owner_summaries(session: Any) -> list[dict[str, Any]]:
    """What `case list --open --owner OWNER --json` prints."""
    listed = getattr(views, "listed_summaries", None)
    if listed is not None:
        return list(listed(session, True, OWNER))
    finder = getattr(views, "case_summaries", None)
    if finder is not None:
        return list(finder(session, views.list_cases(session, True, OWNER)))
    cases = [c for c in views.list_cases(session, True) if c.assignee == OWNER]  # as it was
    return [views.case_summary(session, c) for c in cases]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def memory(pid: int) -> tuple[int, int]:
    """Resident and peak resident set of a process and its children (the daemon's parsing
    child), in MB."""
    each = [status(one) for one in (pid, *children(pid))]
    return sum(one["VmRSS"] for one in each), sum(one["VmHWM"] for one in each)


def daemon(data_dir: Path, settle: float) -> tuple[float, float, int, int]:
    """`smartmail run`: seconds to the first greeting (220) and to the first recipient taken
    (RCPT 250: the pipeline has loaded), RSS idle, RSS peak (MB)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTMAIL_")}
    env.update(
        SMARTMAIL_DATA_DIR=str(data_dir),
        SMARTMAIL_RULES=str(RULES),
        SMARTMAIL_LISTEN=f"127.0.0.1:{port}",
        SMARTMAIL_SECRET="bench-secret",
        SMARTMAIL_OUTBOUND="smtp://127.0.0.1:9",  # nothing is sent: the outbox waits
        SMARTMAIL_LOG_LEVEL="WARNING",
    )
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(COMMAND), "run"],
        env=env,
        cwd=data_dir.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                    if conn.recv(3) == b"220":
                        break
            except OSError:
                time.sleep(0.005)
        started = time.perf_counter() - start
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            client.ehlo()
            client.mail("kund@kund.example")
            code, _ = client.rcpt(ADDRESS)
            assert code == 250, code
        taking = time.perf_counter() - start
        time.sleep(settle)  # its first sweep, then idle
        rss, peak = memory(process.pid)
    finally:
        process.terminate()
        process.wait()
    return started, taking, rss, peak


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--due", type=float, default=0.01)
    parser.add_argument("--owned", type=int, default=2000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds before RSS")
    args = parser.parse_args(argv)
    quiet_logs()
    with tempfile.TemporaryDirectory(prefix="smartmail-scale-") as tmp:
        root = Path(tmp)
        figures: dict[str, Any] = {}
        for name, count in (("small", args.small), ("large", args.cases)):
            settings = make_settings(root, name, RULES)
            app = open_app(settings, DiscardTransport())
            due = fill(app, count, args.due, min(args.owned, count // 2))
            figures[name] = (count, due, *sweeps(app))
            if name == "large":
                figures["desk"] = desk(app)
            app.engine.dispose()
        empty = make_settings(root, "empty", RULES).data_dir
        figures["empty"] = daemon(empty, args.settle)
        figures["full"] = daemon(root / "large", args.settle)
    print_figures(figures, args)
    return 0


def print_figures(f: dict[str, Any], args: argparse.Namespace) -> None:
    (n, due, settle, first, second, report) = f["large"]
    (sn, sdue, ssettle, sfirst, ssecond, _r) = f["small"]
    print(
        f"sweep, first over cases the clock never saw: {settle:.2f} s at {n}, "
        f"{ssettle:.2f} s at {sn} (once, after an upgrade or new rules)"
    )
    print(
        f"sweep, {n} open cases, {due} due: {first:.2f} s (target < 2 s); "
        f"{sn} open, {sdue} due: {sfirst:.2f} s  [{report}]"
    )
    print(
        f"sweep, nothing due: {second:.3f} s at {n} open cases; {ssecond:.3f} s at {sn}"
        f"  (work follows the due cases when these are equal)"
    )
    print(
        f"per due case: {1000 * first / max(due, 1):.2f} ms at {n}, "
        f"{1000 * sfirst / max(sdue, 1):.2f} ms at {sn}"
    )
    listed, rows, mine, lines = f["desk"]
    print(
        f"case list --open --owner --json, {rows} cases of {n}: {1000 * listed:.0f} ms; "
        f"#mine, {lines} lines: {1000 * mine:.0f} ms (target < 200 ms each)"
    )
    (e_start, e_take, e_rss, e_peak), (l_start, l_take, l_rss, l_peak) = f["empty"], f["full"]
    print(
        f"smartmail run to first connection: {e_start:.2f} s empty, {l_start:.2f} s at {n} "
        f"cases (target < 1 s); to first RCPT taken: {e_take:.2f} s empty, {l_take:.2f} s"
    )
    print(
        f"daemon and its parsing child, RSS: idle {e_rss} MB empty (peak {e_peak}), "
        f"{l_rss} MB at {n} cases (peak {l_peak}) (target < 150 MB)"
    )


if __name__ == "__main__":
    sys.exit(main())
