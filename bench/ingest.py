"""Ingest benchmark: how fast mail becomes cases, against a stdlib + SQLite floor.

    .venv/bin/python bench/ingest.py [--mails N] [--clients 8] [--seed 1] [--profile]
                                     [--smtp-only]

One run measures three phases on the same generated mails (`mails.generate`), each on a
fresh temporary data dir, and each next to a floor of its own (`phases`):

1. floor: stdlib parse + one INSERT and commit per mail, same pragmas as smartmail; taking
   turns with the in-process phases, and right before and after SMTP, bare and behind
   aiosmtpd's own listener;
2. pipeline in-process: `Pipeline.process` for each mail, one after another; then
   `Pipeline.process_many` on groups of 8, one commit per group;
3. SMTP: the daemon's listener in this process, the mails from concurrent smtplib clients
   in a separate process; latency from DATA to its answer (and, printed under the table,
   from MAIL to it).

It prints figures and sanity checks (`report`); it never asserts on time. `--profile` adds
a cProfile run of phase 2 (top lines by cumulative time, smartmail and its libraries only).
`--smtp-only` runs only phase 3 with its floors (SMTP, and SMTP with weekly reports).
This file only reads the options and runs the pieces in order.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from mails import Mail, generate
from phases import (
    RULES,
    SECRET,
    SLICE,
    Floor,
    make_settings,
    profile_inprocess,
    quiet_logs,
    run_floor,
    run_floor_over_smtp,
    run_grouped,
    run_inprocess,
    run_smtp,
)
from report import (
    Compared,
    Phase,
    check_line,
    describe,
    floors_together,
    header,
    listener_line,
    profile_text,
    row,
    table,
    whole_lines,
)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mails", type=int, default=1000, help="how many mails (default 1000)")
    parser.add_argument("--clients", type=int, default=8, help="SMTP connections (default 8)")
    parser.add_argument("--seed", type=int, default=1, help="for the generated mails")
    parser.add_argument(
        "--profile", action="store_true", help="also profile the in-process phase (cProfile)"
    )
    parser.add_argument(
        "--smtp-only", action="store_true", help="only the SMTP phases and their floors"
    )
    args = parser.parse_args(argv)
    if args.mails < 2 or args.clients < 1:
        parser.error("need --mails >= 2 and --clients >= 1")
    return args


def smtp_phases(
    mails: Sequence[Mail], root: Path, clients: int, checked: Callable[[str, Phase], Phase]
) -> tuple[Phase, Phase, Phase, Phase]:
    """The floor bare and over SMTP (before and after), SMTP, and SMTP with reports."""
    rules = RULES
    before = checked("floor, before SMTP", run_floor(mails, root / "floor-before-smtp.db"))
    over_before = checked(
        "floor, over SMTP, before SMTP",
        run_floor_over_smtp(mails, root / "floor-smtp-before.db", clients),
    )
    smtp = checked("SMTP", run_smtp(mails, make_settings(root, "smtp", rules), clients))
    over_after = checked(
        "floor, over SMTP, after SMTP",
        run_floor_over_smtp(mails, root / "floor-smtp-after.db", clients),
    )
    reports = checked(
        "SMTP, weekly reports meanwhile",
        run_smtp(mails, make_settings(root, "smtp-reports", rules), clients, clock=True),
    )
    after = checked("floor, after SMTP", run_floor(mails, root / "floor-after-smtp.db"))
    bare, over = floors_together([before, after]), floors_together([over_before, over_after])
    return bare, over, smtp, reports


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    quiet_logs()
    mails = generate(args.mails, args.seed, SECRET.encode())
    print("\n".join(describe(mails)), flush=True)
    with tempfile.TemporaryDirectory(prefix="smartmail-bench-") as tmp:
        root = Path(tmp)
        rules = RULES

        def checked(label: str, phase: Phase) -> Phase:
            print(check_line(label, phase), flush=True)
            return phase

        if args.smtp_only:
            bare, over, smtp, reports = smtp_phases(mails, root, args.clients, checked)
            lines = [
                header(),
                row(bare, None),
                *(row(phase, bare) for phase in (over, smtp, reports)),
                listener_line(smtp, over),
                *whole_lines([over, smtp, reports]),
            ]
            print("\n".join(["", *lines]), flush=True)
            return
        floor = Floor(root / "floor-inprocess.db")
        inprocess = run_inprocess(mails, make_settings(root, "inprocess", rules), floor)
        checked("pipeline in-process", inprocess.phase)
        inprocess_floor = checked("floor, taking turns with it", floor.close())
        floor = Floor(root / "floor-grouped.db")
        grouped = checked(
            "pipeline grouped", run_grouped(mails, make_settings(root, "grouped", rules), floor)
        )
        grouped_floor = checked("floor, taking turns with it", floor.close())
        bare, over, smtp, reports = smtp_phases(mails, root, args.clients, checked)
        others = [
            Compared(grouped_floor, grouped),
            Compared(bare, over),
            Compared(bare, smtp),
            Compared(bare, reports),
        ]
        lines = table(inprocess.phase, inprocess.rows(), inprocess_floor, others, SLICE)
        lines.append(listener_line(smtp, over))
        lines.extend(whole_lines([over, smtp, reports]))
        print("\n".join(["", *lines]), flush=True)
        if args.profile:
            print("\nprofile of the in-process phase (fresh data dir), by cumulative time:")
            print(profile_text(profile_inprocess(mails, make_settings(root, "profile", rules))))


if __name__ == "__main__":
    main()
