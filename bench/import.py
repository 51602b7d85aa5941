"""Import benchmark: how fast `smartmail import` moves a mailbox in, against a floor.

    .venv/bin/python bench/import.py [--mails 10000] [--seed 1]

Writes the generated tenant mails (`mails.generate`: half new mails, half replies by
subject token or In-Reply-To) into an mbox file in shuffled order, then measures on fresh
temporary data dirs:

1. floor: the same mbox read with the stdlib's `mailbox`, each mail parsed by `email` and
   INSERTed, one commit per 200 mails (the import's batch), same pragmas as smartmail, no
   smartmail code; run right before and right after the import, the two averaged;
2. import: `importer.move_in` on the mbox, as `smartmail import` runs it (oldest first,
   sending off, batches of 200), with a check line counted from the database;
3. again: the same import once more, every mail a duplicate.

It prints the figures and whether the import took under a minute; it never asserts on
time. Compare ratios within one run: a shared machine's speed drifts.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import mailbox
import random
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from mails import generate, new_count
from phases import RULES, SECRET, DiscardTransport, make_settings, quiet_logs, store_check
from report import Phase, describe

from smartmail.app import open_app
from smartmail.inbound.importer import BATCH, Counts, move_in
from smartmail.inbound.mailboxes import MboxFile
from smartmail.store.models import utcnow


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mails", type=int, default=10_000, help="how many (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="for the generated mails")
    args = parser.parse_args(argv)
    if args.mails < 2:
        parser.error("need --mails >= 2")
    return args


def write_mbox(path: Path, raws: list[bytes], seed: int) -> None:
    shuffled = list(raws)
    random.Random(seed).shuffle(shuffled)  # a mailbox is in no order: the import sorts
    box = mailbox.mbox(path)
    box.lock()
    for raw in shuffled:
        box.add(raw)
    box.flush()
    box.unlock()
    box.close()


def floor(mbox: Path, db: Path) -> Phase:
    """Read, parse and INSERT every mail, a commit per BATCH: what any import must pay."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE mail (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE,"
        " subject TEXT NOT NULL, sender TEXT NOT NULL, raw BLOB NOT NULL)"
    )
    start = time.perf_counter()
    box = mailbox.mbox(mbox, create=False)
    for number, key in enumerate(box.iterkeys(), 1):
        raw = box.get_bytes(key)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        conn.execute(
            "INSERT INTO mail (message_id, subject, sender, raw) VALUES (?, ?, ?, ?)",
            (str(msg["message-id"]), str(msg["subject"]), str(msg["from"]), raw),
        )
        if number % BATCH == 0:
            conn.commit()
    conn.commit()
    wall = time.perf_counter() - start
    rows = conn.execute("SELECT COUNT(*) FROM mail").fetchone()[0]
    conn.close()
    box.close()
    return Phase("floor (read + parse + insert)", wall, [], f"{rows} rows", count=rows)


def run_import(mbox: Path, root: Path, name: str, expected_cases: int) -> tuple[Phase, Counts]:
    app = open_app(make_settings(root, "import", RULES), transport=DiscardTransport())
    counts = Counts()
    mailbox_file = MboxFile(mbox)
    start = time.perf_counter()
    move_in(app, mailbox_file, utcnow() - timedelta(days=30), counts, None)
    wall = time.perf_counter() - start
    mailbox_file.close()
    check = f"{counts.line()}; {store_check(app.engine, expected_cases)}"
    app.engine.dispose()
    return Phase(name, wall, [], check, count=counts.done), counts


def line(phase: Phase, against: float) -> str:
    rate = phase.count / phase.wall if phase.wall else 0.0
    ratio = f"{phase.ms_per_mail / against:8.2f}" if against else "        "
    return f"{phase.name:<34}{rate:8.0f}{phase.ms_per_mail:10.2f}{ratio}{phase.wall:10.1f}"


def main(argv: Sequence[str] | None = None) -> None:
    args = arguments(argv)
    quiet_logs()
    mails = generate(args.mails, args.seed, SECRET.encode())
    header = describe(mails)
    header[0] = header[0].replace("ingest benchmark", "import benchmark")
    print("\n".join(header), flush=True)
    with tempfile.TemporaryDirectory(prefix="smartmail-bench-import-") as tmp:
        root = Path(tmp)
        mbox = root / "shared.mbox"
        write_mbox(mbox, [mail.raw for mail in mails], args.seed)
        before = floor(mbox, root / "floor-before.db")
        print(f"check floor, before: {before.check}", flush=True)
        first, counts = run_import(
            mbox, root, "import (oldest first, 200 a commit)", new_count(mails)
        )
        print(f"check import: {first.check}", flush=True)
        after = floor(mbox, root / "floor-after.db")
        print(f"check floor, after: {after.check}", flush=True)
        again, _ = run_import(mbox, root, "import again (all duplicates)", new_count(mails))
        print(f"check import again: {again.check}", flush=True)
    floors = Phase(before.name, before.wall + after.wall, [], count=before.count + after.count)
    print()
    print(f"{'phase':<34}{'mails/s':>8}{'ms/mail':>10}{'x floor':>8}{'total s':>10}")
    print(line(floors, 0.0))
    for phase in (first, again):
        print(line(phase, floors.ms_per_mail))
    verdict = "under a minute" if first.wall < 60 else "NOT under a minute"
    print(
        f"{counts.done} mails imported in {first.wall:.1f} s ({verdict}); the floor next to it"
        f" took {before.wall:.1f} s before and {after.wall:.1f} s after"
    )


if __name__ == "__main__":
    main()
