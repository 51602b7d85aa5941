"""The measured phases of the benchmarks, each on a fresh data dir of its own.

SQLite, loopback only, outgoing mail discarded by `DiscardTransport` after the outbox is
written. Each phase gives back a `report.Phase` with a check counted from what it left
behind (`store_check`: cases, inbound messages, outbox rows), so the figures mean what
they say.

- floor (`Floor`, `run_floor`): stdlib parse + one INSERT and commit per mail, same pragmas
  as smartmail, no smartmail code: what any ingest must at least pay. Each phase below is
  compared with a floor measured next to it, because the speed of a shared machine drifts
  within seconds: the in-process phases take turns with the floor, SLICE mails a turn
  (`alternate`); the SMTP phase is compared with floor runs right before and after it, and
  with the floor's work behind aiosmtpd's own listener, driven by the same clients
  (`run_floor_over_smtp`, so the listener's own cost is in the floor too);
- pipeline in-process: `Pipeline.process` for each mail, one after another (one commit
  each, as `smartmail ingest`: `run_inprocess`); then `Pipeline.process_many` on groups of
  GROUP (one commit per group, as the daemon's group commit does for mail that arrives
  together: `run_grouped`);
- SMTP (`run_smtp`): the daemon's listener in this process, the mails from concurrent
  smtplib clients in a separate process (as real clients are: they do not share the
  daemon's interpreter). That process is spawned: it imports this module by name, so
  bench/ must be on its sys.path (it is when a script in bench/ is run; spawn passes the
  parent's sys.path on).
"""

from __future__ import annotations

import asyncio
import cProfile
import email
import email.policy
import logging
import multiprocessing
import re
import smtplib
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SMTPEnvelope
from mails import ADDRESS, Mail, new_count
from report import Phase
from sqlalchemy import Engine, func
from sqlmodel import select

from smartmail.app import App, open_app
from smartmail.clock.scheduler import sweep
from smartmail.config import Settings, load_settings
from smartmail.daemon import Daemon
from smartmail.desk.views import list_cases
from smartmail.mail.tokens import case_token
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.store.db import transaction
from smartmail.store.models import Message, Outbox, utcnow

SECRET = "bench-secret"
GROUP = 8  # mails per commit in the grouped in-process phase
SLICE = 5 * GROUP  # mails per turn when a phase and the floor take turns

# The office the project ships: its routing is what a real desk runs.
RULES = Path(__file__).resolve().parent.parent / "rules.yaml"

# --------------------------------------------------------------------------- set-up


class DiscardTransport:
    """Outgoing mail goes nowhere; the outbox rows are still written and marked sent."""

    def send(self, mail_from: str, rcpt_to: list[str], body: bytes) -> None:
        return None


def quiet_logs() -> None:
    for name in ("smartmail", "mail.log"):
        logging.getLogger(name).setLevel(logging.WARNING)


def make_settings(root: Path, name: str, rules: Path) -> Settings:
    environ = {
        "SMARTMAIL_DATA_DIR": str(root / name),
        "SMARTMAIL_RULES": str(rules),
        "SMARTMAIL_SECRET": SECRET,
        "SMARTMAIL_LISTEN": "127.0.0.1:0",
        "SMARTMAIL_LOG_LEVEL": "WARNING",
    }
    return load_settings(environ, env_file=None)


def store_check(engine: Engine, expected_cases: int) -> str:
    """Counted from the database: what the phase left behind."""
    with transaction(engine) as session:
        cases = len(list_cases(session))
        inbound = session.exec(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        ).one()
        outbox = session.exec(select(func.count()).select_from(Outbox)).one()
        sent = session.exec(
            select(func.count()).select_from(Outbox).where(Outbox.status == "sent")
        ).one()
    verdict = "ok" if cases == expected_cases else "MISMATCH"
    return (
        f"{cases} cases (expected {expected_cases}: {verdict}), "
        f"{inbound} inbound messages, {outbox} outbox rows ({sent} sent)"
    )


def _kinds(kinds: Counter[str]) -> str:
    return " ".join(f"{kind}={count}" for kind, count in sorted(kinds.items()))


# --------------------------------------------------------------------------- 1. floor


def _floor_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False)  # over SMTP: the loop's thread
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE mail (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE,"
        " subject TEXT NOT NULL, sender TEXT NOT NULL, raw BLOB NOT NULL)"
    )
    return conn


class Floor:
    """stdlib parse + one INSERT and commit per mail: what any ingest must at least pay.

    Run in slices between a phase's slices, so that both see the machine at the same speed.
    """

    def __init__(self, path: Path) -> None:
        self.conn = _floor_db(path)
        self.wall = 0.0
        self.durations: list[float] = []

    def run(self, mails: Sequence[Mail]) -> None:
        start = time.perf_counter()
        for mail in mails:
            self.take(mail.raw)
        self.wall += time.perf_counter() - start

    def take(self, raw: bytes) -> int:
        """One mail: parsed, inserted, committed. Gives its row id."""
        began = time.perf_counter()
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        cursor = self.conn.execute(
            "INSERT INTO mail (message_id, subject, sender, raw) VALUES (?, ?, ?, ?)",
            (str(msg["message-id"]), str(msg["subject"]), str(msg["from"]), raw),
        )
        self.conn.commit()
        self.durations.append(time.perf_counter() - began)
        return int(cursor.lastrowid or 0)

    def close(self) -> Phase:
        rows = self.conn.execute("SELECT COUNT(*) FROM mail").fetchone()[0]
        self.conn.close()
        verdict = "ok" if rows == len(self.durations) else "MISMATCH"
        return Phase(
            "floor (parse + 1 insert)", self.wall, self.durations, f"{rows} rows ({verdict})"
        )


def run_floor(mails: Sequence[Mail], path: Path) -> Phase:
    floor = Floor(path)
    floor.run(mails)
    return floor.close()


# --------------------------------------------------------------------------- 2. in-process


@dataclass
class InProcess:
    phase: Phase
    mails: Sequence[Mail]

    def subset(self, label: str, keep: Callable[[Mail], bool]) -> Phase:
        picked = [d for m, d in zip(self.mails, self.phase.durations, strict=True) if keep(m)]
        return Phase(label, sum(picked), picked)

    def rows(self) -> list[Phase]:
        replies = [m.index for m in self.mails if not m.is_new]
        quarter = len(replies) // 4
        first, last = set(replies[:quarter]), set(replies[len(replies) - quarter :])
        return [
            self.subset("  new mails", lambda m: m.is_new),
            self.subset("  replies", lambda m: not m.is_new),
            self.subset("  replies, first quarter", lambda m: m.index in first),
            self.subset("  replies, last quarter", lambda m: m.index in last),
        ]


@dataclass
class Tally:
    """What a phase has measured so far, slice by slice."""

    wall: float = 0.0
    durations: list[float] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    misthreaded: int = 0

    def outcomes(self) -> str:
        return f"outcomes {_kinds(self.kinds)}, {self.misthreaded} on an unexpected case"


Step = Callable[[App, Sequence[Mail], Tally], None]


def process_each(app: App, mails: Sequence[Mail], tally: Tally) -> None:
    """`Pipeline.process` per mail: one commit each."""
    start = time.perf_counter()
    for mail in mails:
        envelope = Envelope("smtp", mail.sender, (ADDRESS,))
        began = time.perf_counter()
        outcome = app.pipeline.process(mail.raw, envelope)
        tally.durations.append(time.perf_counter() - began)
        tally.kinds[outcome.kind] += 1
        tally.misthreaded += outcome.case_number != mail.case
    tally.wall += time.perf_counter() - start


def process_grouped(app: App, mails: Sequence[Mail], tally: Tally) -> None:
    """`Pipeline.process_many` on groups of GROUP: each mail's duration is its group's."""
    start = time.perf_counter()
    for first in range(0, len(mails), GROUP):
        group = mails[first : first + GROUP]
        began = time.perf_counter()
        results = app.pipeline.process_many(
            [(mail.raw, Envelope("smtp", mail.sender, (ADDRESS,))) for mail in group]
        )
        tally.durations += [time.perf_counter() - began] * len(group)
        for mail, result in zip(group, results, strict=True):
            kind = result.kind if isinstance(result, Outcome) else type(result).__name__
            tally.kinds[kind] += 1
            tally.misthreaded += not isinstance(result, Outcome) or result.case_number != mail.case
    tally.wall += time.perf_counter() - start


def alternate(
    name: str, mails: Sequence[Mail], settings: Settings, step: Step, floor: Floor
) -> Phase:
    """`step` on a fresh data dir, slice by slice, each slice right after the floor's."""
    app = open_app(settings, transport=DiscardTransport())
    tally = Tally()
    try:
        for first in range(0, len(mails), SLICE):
            part = mails[first : first + SLICE]
            floor.run(part)
            step(app, part, tally)
        check = f"{tally.outcomes()}; {store_check(app.engine, new_count(mails))}"
    finally:
        app.engine.dispose()
    return Phase(name, tally.wall, tally.durations, check)


def run_inprocess(mails: Sequence[Mail], settings: Settings, floor: Floor) -> InProcess:
    phase = alternate("pipeline in-process", mails, settings, process_each, floor)
    return InProcess(phase, mails)


def run_grouped(mails: Sequence[Mail], settings: Settings, floor: Floor) -> Phase:
    return alternate(f"pipeline, {GROUP} per commit", mails, settings, process_grouped, floor)


def profile_inprocess(mails: Sequence[Mail], settings: Settings) -> cProfile.Profile:
    """`process_each` under cProfile, on a fresh data dir (`report.profile_text` prints it)."""
    app = open_app(settings, transport=DiscardTransport())
    profiler = cProfile.Profile()
    try:
        profiler.runcall(process_each, app, mails, Tally())
    finally:
        app.engine.dispose()
    return profiler


# --------------------------------------------------------------------------- 3. SMTP


class DaemonThread:
    """The daemon on its own asyncio loop in a background thread."""

    def __init__(self, app: App) -> None:
        self.daemon = Daemon(app)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="smartmail-daemon", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.daemon.run(ready=self.ready.set)

    def start(self) -> int:
        """Start listening; returns the port."""
        self.thread.start()
        if not self.ready.wait(30) or self.error or not self.daemon.servers:
            raise RuntimeError(f"the daemon did not start: {self.error!r}")
        return int(self.daemon.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        if self.loop is None or not self.thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.daemon.stopping.set)
        self.thread.join(60)
        if self.thread.is_alive():
            raise RuntimeError("the daemon did not stop within 60 s")


class RecordingSMTP(smtplib.SMTP):
    """smtplib.SMTP that keeps the answer to DATA (smartmail's 250 names the case) and how
    long it took from sending DATA to that answer."""

    data_reply = b""
    data_took = 0.0

    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        began = time.perf_counter()
        code, reply = super().data(msg)
        self.data_took = time.perf_counter() - began
        self.data_reply = reply
        return code, reply


@dataclass
class Client:
    """One SMTP connection sending its share: all mails of its customers, in order."""

    port: int
    mails: list[Mail]
    secret: bytes
    latencies: list[float] = field(default_factory=list)  # DATA to its answer
    whole: list[float] = field(default_factory=list)  # MAIL to the answer to DATA
    kinds: Counter[str] = field(default_factory=Counter)
    cases: dict[int, int] = field(default_factory=dict)  # new mail index -> its case
    misthreaded: int = 0
    failures: list[str] = field(default_factory=list)

    def run(self, barrier: threading.Barrier) -> None:
        with RecordingSMTP("127.0.0.1", self.port, timeout=120) as smtp:
            smtp.ehlo()
            barrier.wait()
            for mail in self.mails:
                self.send(smtp, mail)

    def raw(self, mail: Mail) -> bytes | None:
        """Case numbers depend on arrival order here: swap in the token of the real case."""
        if not mail.token or mail.original is None:
            return mail.raw
        if mail.original not in self.cases:
            return None  # its new mail was refused
        token = case_token(self.cases[mail.original], self.secret)
        return mail.raw.replace(mail.token.encode(), token.encode(), 1)

    def send(self, smtp: RecordingSMTP, mail: Mail) -> None:
        raw = self.raw(mail)
        if raw is None:
            self.failures.append("not sent: a reply to a refused mail")
            return
        began = time.perf_counter()
        try:
            smtp.sendmail(mail.sender, [ADDRESS], raw)
        except smtplib.SMTPException as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")
            return
        self.whole.append(time.perf_counter() - began)
        self.latencies.append(smtp.data_took)
        kind, case = _outcome(smtp.data_reply)
        self.kinds[kind] += 1
        if mail.original is None and case is not None:
            self.cases[mail.index] = case
        elif mail.original is not None and case != self.cases.get(mail.original):
            self.misthreaded += 1


_OUTCOME = re.compile(r"(\w+)(?: case (\d+))?\s*$")


def _outcome(reply: bytes) -> tuple[str, int | None]:
    """("new_case", 17) from smartmail's "250 2.0.0 new_case case 17"."""
    match = _OUTCOME.search(reply.decode(errors="replace"))
    if match is None:
        return "?", None
    return match[1], int(match[2]) if match[2] else None


def share(mails: Sequence[Mail], clients: int, port: int, secret: bytes) -> list[Client]:
    """A customer's mails all go to one client, so a reply is sent after its case exists."""
    shares: list[Client] = [Client(port, [], secret) for _ in range(clients)]
    for mail in mails:
        shares[mail.case % clients].mails.append(mail)  # one customer per case
    return shares


def drive(clients: list[Client]) -> float:
    """Run all clients at once; returns the wall time from the common start to the last 250."""
    barrier = threading.Barrier(len(clients) + 1, timeout=60)
    threads = [
        threading.Thread(target=client.run, args=(barrier,), name=f"client-{number}")
        for number, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def drive_elsewhere(clients: list[Client]) -> tuple[float, list[Client]]:
    """`drive` in a fresh process: the clients' own work does not slow the daemon's."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_drive_and_return, clients).result()


def _drive_and_return(clients: list[Client]) -> tuple[float, list[Client]]:
    return drive(clients), clients


def run_smtp(mails: Sequence[Mail], settings: Settings, clients: int, clock: bool = False) -> Phase:
    """With `clock`, the daemon's sweep makes one weekly report after the other meanwhile."""
    app = open_app(settings, transport=DiscardTransport())
    # The daemon's first sweep, done before the clock starts: on a fresh database, started
    # in business hours, it sends the week's report, which would land in the figures or
    # not depending on the hour the bench runs. Later sweeps find nothing to do.
    sweep(app, utcnow())
    server = DaemonThread(app)
    reports = ReportsMeanwhile(server) if clock else None
    try:
        port = server.start()
        if reports:
            reports.start()
        wall, shares = drive_elsewhere(share(mails, clients, port, settings.secret))
    finally:
        made = reports.stop() if reports else 0
        server.stop()
    kinds = sum((client.kinds for client in shares), Counter[str]())
    misthreaded = sum(client.misthreaded for client in shares)
    failures = [failure for client in shares for failure in client.failures]
    check = (
        f"outcomes {_kinds(kinds)}, {misthreaded} on an unexpected case, "
        f"{len(failures)} failed{': ' + failures[0] if failures else ''}; "
        f"{store_check(app.engine, new_count(mails))}"
    )
    app.engine.dispose()
    name = f"SMTP, {clients} clients" + (", reports" if clock else "")
    if clock:
        check = f"{made} weekly report sweeps meanwhile; {check}"
    return _over_smtp(name, wall, shares, check, len(mails))


class ReportsMeanwhile:
    """Sweeps on the daemon's own clock path, each on the Monday morning of another week
    (so each makes and queues the weekly report: figures, chart, one mail per manager)."""

    FIRST = datetime(2027, 1, 4, 8, 30, tzinfo=UTC)  # a Monday, 09:30 in Stockholm

    def __init__(self, server: DaemonThread) -> None:
        self.server = server
        self.done = threading.Event()
        self.made = 0
        self.thread = threading.Thread(target=self._run, name="reports-meanwhile")

    def _run(self) -> None:
        assert self.server.loop is not None
        while not self.done.is_set():
            monday = self.FIRST + timedelta(weeks=self.made)
            pass_ = self.server.daemon.sweep_now(monday)
            asyncio.run_coroutine_threadsafe(pass_, self.server.loop).result(120)
            self.made += 1

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> int:
        self.done.set()
        if self.thread.is_alive():
            self.thread.join(120)
        return self.made


class FloorOverSMTP:
    """The floor's work behind aiosmtpd's own listener, on an asyncio loop in a thread.

    Each mail is taken in the DATA handler, on the loop, one after another: the floor adds
    nothing of smartmail's (no group commit, no worker thread), only the listener's cost.
    """

    def __init__(self, path: Path) -> None:
        self.floor = Floor(path)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="floor-smtp")
        self.server: asyncio.Server | None = None

    async def handle_DATA(self, _server: SMTP, _session: object, envelope: SMTPEnvelope) -> str:
        data = envelope.original_content or b""
        # the answer the clients read: each mail is a "case" of its own here
        return f"250 2.0.0 new_case case {self.floor.take(data)}"

    def start(self) -> int:
        self.thread.start()
        create = self.loop.create_server(lambda: SMTP(self), "127.0.0.1", 0)
        self.server = asyncio.run_coroutine_threadsafe(create, self.loop).result(30)
        return int(self.server.sockets[0].getsockname()[1])

    def stop(self) -> Phase:
        if self.server is not None:
            self.server.close()
            closed = asyncio.run_coroutine_threadsafe(self.server.wait_closed(), self.loop)
            closed.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()
        return self.floor.close()


def run_floor_over_smtp(mails: Sequence[Mail], path: Path, clients: int) -> Phase:
    listener = FloorOverSMTP(path)
    try:
        port = listener.start()
        wall, shares = drive_elsewhere(share(mails, clients, port, SECRET.encode()))
    finally:
        stored = listener.stop()
    failures = [failure for client in shares for failure in client.failures]
    check = f"{stored.check}, {len(failures)} failed{': ' + failures[0] if failures else ''}"
    return _over_smtp("floor over SMTP", wall, shares, check, len(mails))


def _over_smtp(name: str, wall: float, shares: list[Client], check: str, count: int) -> Phase:
    """A phase's figures from its clients: DATA to its answer, and MAIL to that answer."""
    latencies = [latency for client in shares for latency in client.latencies]
    whole = [latency for client in shares for latency in client.whole]
    return Phase(name, wall, latencies, check, count=count, whole=whole)
