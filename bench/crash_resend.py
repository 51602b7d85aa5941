"""Crash benchmark: how much mail a daemon killed with SIGKILL sends twice, or holds back.

    .venv/bin/python bench/crash_resend.py [--kills 20] [--mails 6] [--seed 1]
                                           [--drain 120] [--database-url URL] [--code DIR]

The real daemon (`smartmail run` in a subprocess) relays to a sink in this process that
takes a moment per mail, as a relay does, so mail is in flight most of the time. Each
round starts the daemon, mails it `--mails` new cases over SMTP (each causes two mails
out: the acknowledgement and the owner's notice) and kills it with SIGKILL at a random
moment while it sends. After the last kill the daemon is started once more and runs until
the outbox is empty. Then the sink's mail is counted by Message-ID:

- duplicates: mails the sink took more than once, in all and per kill (a resend after
  a restart is put down to the kill before it); at most one per kill is what the sender
  promises (the one mail in flight);
- lost: mails the outbox holds that the sink never took; none may be;
- the final drain: how long the last daemon took to send what was left. A sender that
  leased mail ahead would hold it back for minutes.

It prints the figures and a check line, and exits 1 when a promise is broken. `--code`
runs the daemon from another checkout (e.g. an older version) to compare. It never
asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text

RULES = Path(__file__).resolve().parent.parent / "rules.yaml"  # the office the project ships
DESK = "felanmalan@bostad.example"
RELAY_SECONDS = 0.02  # what the sink takes per mail before its 250
QUIET = 3.0


@dataclass
class CountingRelay:
    """The relay: takes each mail after a moment, and notes in which round it came."""

    round: int = 0
    received: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        await asyncio.sleep(RELAY_SECONDS)
        content: bytes = envelope.original_content  # type: ignore[attr-defined]
        msg = message_from_bytes(content, policy=policy.default)
        with self.lock:
            self.received.append((str(msg["Message-ID"]), self.round))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@dataclass
class Result:
    kills: int
    mails_in: int
    outbox: int
    queued_left: int
    received: int
    distinct: int
    duplicates: int
    per_kill: Counter[int]
    lost: int
    drain_seconds: float

    def broken(self) -> list[str]:
        problems = []
        if self.duplicates > self.kills:
            problems.append(f"{self.duplicates} duplicates after {self.kills} kills")
        if any(count > 1 for count in self.per_kill.values()):
            problems.append(f"more than one duplicate after a kill: {dict(self.per_kill)}")
        if self.lost or self.queued_left:
            problems.append(f"{self.lost} lost, {self.queued_left} still queued")
        return problems


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    """`smartmail run`, once its SMTP listener is up."""
    log = open(cwd / "daemon.log", "ab")  # noqa: SIM115  (the daemon writes it after we return)
    process = subprocess.Popen(
        [sys.executable, "-m", "smartmail", "run"], env=env, cwd=cwd, stderr=log
    )
    log.close()
    port = int(env["SMARTMAIL_LISTEN"].rsplit(":", 1)[1])
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit(f"the daemon stopped; see {cwd / 'daemon.log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise SystemExit("the daemon did not listen within a minute")


def mail_in(port: int, round_: int, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        for n in range(count):
            sender = f"kund{round_}-{n}@kund.example"
            msg = EmailMessage()
            msg["From"], msg["To"] = sender, DESK
            msg["Subject"] = f"Fråga {round_}-{n}"
            msg["Message-ID"] = make_msgid(domain="kund.example")
            msg.set_content("Hej! Lampan i trapphuset är trasig.")
            client.send_message(msg)


def outbox(url: str) -> tuple[set[str], int]:
    """The Message-IDs of every mail in the outbox, and how many are still queued."""
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            ids = db.execute(
                text("SELECT m.message_id FROM outbox o JOIN message m ON m.id = o.message_pk")
            ).scalars()
            queued = db.execute(
                text("SELECT count(*) FROM outbox WHERE status = 'queued'")
            ).scalar_one()
            return set(ids), int(queued)
    finally:
        engine.dispose()


def drain(url: str, timeout: float) -> float:
    """Seconds until the outbox holds nothing queued, and has for QUIET seconds (the
    daemon's first sweep may still be writing mail, e.g. the week's report)."""
    began = time.monotonic()
    empty_since: float | None = None
    seen = -1
    while time.monotonic() - began < timeout:
        ids, queued = outbox(url)
        now = time.monotonic()
        changed, seen = len(ids) != seen, len(ids)
        if queued or changed:
            empty_since = None if queued else now
        elif empty_since is None:
            empty_since = now
        elif now - empty_since >= QUIET:
            return empty_since - began
        time.sleep(0.1)
    return time.monotonic() - began


def run(args: argparse.Namespace, root: Path) -> Result:
    rng = random.Random(args.seed)
    relay = CountingRelay()
    relay_port = free_port()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port)
    controller.start()
    listen = free_port()
    url = args.database_url or f"sqlite:///{root / 'data' / 'smartmail.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTMAIL_")}
    env.update(
        SMARTMAIL_DATA_DIR=str(root / "data"),
        SMARTMAIL_DATABASE_URL=url,
        SMARTMAIL_RULES=str(RULES),
        SMARTMAIL_LISTEN=f"127.0.0.1:{listen}",
        SMARTMAIL_SECRET="bench-secret",
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{relay_port}",
    )
    if args.code:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.code, env.get("PYTHONPATH")]))
    try:
        for round_ in range(args.kills):
            relay.round = round_
            daemon = start(env, root)
            mail_in(listen, round_, args.mails)
            # Killed while it sends: the relay takes RELAY_SECONDS and more per mail.
            time.sleep(rng.uniform(0, 2 * args.mails * RELAY_SECONDS * 2))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
        relay.round = args.kills
        daemon = start(env, root)
        drain_seconds = drain(url, args.drain)
        daemon.terminate()
        daemon.wait(timeout=30)
    finally:
        controller.stop()
    return result(args, url, relay, drain_seconds)


def result(args: argparse.Namespace, url: str, relay: CountingRelay, drained: float) -> Result:
    ids, queued = outbox(url)
    seen = Counter(message_id for message_id, _round in relay.received)
    per_kill: Counter[int] = Counter()
    first: set[str] = set()
    for message_id, round_ in relay.received:
        if message_id in first:
            per_kill[round_ - 1] += 1  # sent again after the restart that followed that kill
        first.add(message_id)
    return Result(
        kills=args.kills,
        mails_in=args.kills * args.mails,
        outbox=len(ids),
        queued_left=queued,
        received=len(relay.received),
        distinct=len(seen),
        duplicates=sum(count - 1 for count in seen.values()),
        per_kill=per_kill,
        lost=len(ids - set(seen)),
        drain_seconds=drained,
    )


def report(found: Result) -> str:
    worst = max(found.per_kill.values(), default=0)
    lines = [
        f"kills              {found.kills}",
        f"mails in           {found.mails_in}",
        f"mails in outbox    {found.outbox}",
        f"taken by the relay {found.received} ({found.distinct} distinct)",
        f"duplicates         {found.duplicates} (most after one kill: {worst})",
        f"lost               {found.lost}, still queued {found.queued_left}",
        f"final drain        {found.drain_seconds:.1f} s",
    ]
    problems = found.broken()
    verdict = "ok" if not problems else "BROKEN: " + "; ".join(problems)
    lines.append(
        f"check {found.duplicates} duplicates after {found.kills} kills, "
        f"{found.lost} lost: {verdict}"
    )
    return "\n".join(lines)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs (default 20)")
    parser.add_argument("--mails", type=int, default=6, help="new cases per round (default 6)")
    parser.add_argument("--seed", type=int, default=1, help="for the moments of the kills")
    parser.add_argument(
        "--drain", type=float, default=120, help="seconds the last daemon may take (120)"
    )
    parser.add_argument("--database-url", help="default: SQLite in a temporary data dir")
    parser.add_argument("--code", help="run the daemon from this checkout instead")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    with tempfile.TemporaryDirectory(prefix="smartmail-crash-") as root:
        found = run(args, Path(root))
    print(report(found))
    return 1 if found.broken() else 0


if __name__ == "__main__":
    sys.exit(main())
