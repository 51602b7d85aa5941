"""One asyncio process: SMTP/LMTP listeners, the outbox sender, the rules watcher, the clock;
mail is parsed in a child process beside it (pipeline/parse_child.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from smartmail.admin.systemd import Notifier, desk_status, keep_systemd_told
from smartmail.app import App
from smartmail.config import HostPort
from smartmail.desk import notify
from smartmail.inbound.early import EarlyListeners, bind
from smartmail.inbound.group import GroupCommit
from smartmail.inbound.ingest_socket import IngestHandler, IngestSocket, listen_for_ingest
from smartmail.inbound.smtp import MailHandler, make_server_factory
from smartmail.pipeline.parse_child import ParseChild
from smartmail.pipeline.warm import freeze_what_lives, warm_up
from smartmail.store.db import transaction
from smartmail.store.models import utcnow

# Loaded when used, after the listeners take connections (`smartmail run` is up sooner):
# the clock (APScheduler, the sweep and its reports), the web pages (aiohttp) and IMAP.
if TYPE_CHECKING:
    from aiohttp import web
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from smartmail.clock.scheduler import SweepReport

log = logging.getLogger(__name__)

SENDER_POLL_SECONDS = 5.0
SWEEP_SECONDS = 60
RULES_POLL_SECONDS = 2.0
INTAKE_FIRST_SECONDS = 0.5  # the longest the clock waits for intake between two steps


class Daemon:
    def __init__(self, app: App, early: EarlyListeners | None = None) -> None:
        self.app = app
        self.early = early  # listeners bound before the app was loaded, to take over
        # SQLite takes one writer at a time: queueing in one thread beats lock retries.
        workers = 1 if app.engine.dialect.name == "sqlite" else 4
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pipeline")
        # Mail is parsed in a child process, beside the writer (parse_child.py says why).
        self.parse_child = ParseChild()
        self.writer = GroupCommit(app.pipeline, self.executor, workers, self.parse_child)
        self.sender_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sender")
        # The sweep's own thread: mail does not queue behind a sweep or a weekly report (on
        # SQLite they take turns per transaction, each a short one).
        self.clock_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clock")
        self.outbox_waiting = asyncio.Event()
        self.stopping = asyncio.Event()
        self.rules_changed = asyncio.Event()
        self.servers: list[asyncio.Server] = []
        self.web: web.AppRunner | None = None
        self.ingest_socket: IngestSocket | None = None
        self.notifier = Notifier(app.settings.notify_socket, app.settings.watchdog_usec)

    async def start(self) -> None:
        hostname = self.app.pipeline.address().rpartition("@")[2] or "localhost"
        await self._listen_for_ingest(hostname)
        if self.app.settings.listen:  # None: SMARTMAIL_LISTEN=off
            await self._listen(self.app.settings.listen, "smtp", hostname)
        else:
            log.info("no SMTP listener (SMARTMAIL_LISTEN=off)")
        if self.app.settings.lmtp_listen:
            await self._listen(self.app.settings.lmtp_listen, "lmtp", hostname)
        if self.app.settings.web_listen:
            from smartmail.web.server import build_web_app, serve_web

            # Posts of the fault-report page go through the same writer as mail.
            pages = build_web_app(self.app, self.writer.process, self.outbox_waiting.set)
            self.web = await serve_web(pages, self.app.settings.web_listen)

    async def _listen(self, where: HostPort, channel: str, hostname: str) -> None:
        handler = MailHandler(self.app.pipeline, self.writer, channel, self.outbox_waiting.set)
        server = self.early.adopt(channel, handler, hostname) if self.early else None
        if server is None:
            factory = make_server_factory(
                handler,
                lmtp=channel == "lmtp",
                hostname=hostname,
                max_size=self.app.settings.max_message_size,
            )
            server = await bind(factory, where, channel)
        self.servers.append(server)
        port = server.sockets[0].getsockname()[1]
        log.info("%s listening on %s:%s", channel.upper(), where.host, port)

    async def _listen_for_ingest(self, hostname: str) -> None:
        """`smartmail ingest` hands its mail over here instead of loading the pipeline."""
        handler = IngestHandler(self.app.pipeline, self.writer, "ingest", self.outbox_waiting.set)
        settings = self.app.settings
        self.ingest_socket = await listen_for_ingest(
            handler, settings.data_dir, hostname, settings.max_message_size
        )

    async def send_outbox_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            try:
                report = await loop.run_in_executor(
                    self.sender_executor, self.app.deliver, utcnow()
                )
                if report.sent or report.failed or report.retried:
                    log.info("outbox: %s", report)
                sms = await loop.run_in_executor(
                    self.sender_executor, self.app.deliver_sms, utcnow()
                )
                if sms.sent or sms.failed or sms.retried:
                    log.info("SMS: %s", sms)
            except Exception:
                log.exception("outbox delivery pass failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox_waiting.wait(), SENDER_POLL_SECONDS)
            self.outbox_waiting.clear()

    async def watch_rules_forever(self) -> None:
        """Reload rules.yaml when it changes or on SIGHUP; report a broken file once."""
        forced = False
        while not self.stopping.is_set():
            if forced:  # SIGHUP: systemctl reload waits for READY=1
                self.notifier.reloading()
            self.app.rules.reload(force=forced)
            if forced:
                self.notifier.ready()
            problem = self.app.rules.take_unreported_problem()
            if problem is not None:
                await asyncio.get_running_loop().run_in_executor(
                    self.executor, self._report_rules_problem, str(problem)
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.rules_changed.wait(), RULES_POLL_SECONDS)
            forced = self.rules_changed.is_set()
            self.rules_changed.clear()

    def _report_rules_problem(self, problem: str) -> None:
        log.info("telling the managers that %s is broken", self.app.rules.path)
        rules = self.app.rules()
        with transaction(self.app.engine) as session:
            notify.rules_problem(
                self.app.pipeline.notify_context(rules),
                session,
                problem,
                str(self.app.rules.path),
                utcnow(),
            )
        self.outbox_waiting.set()

    def _start_clock(self) -> AsyncIOScheduler:
        """APScheduler runs the sweep every minute (and once right away)."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        clock = AsyncIOScheduler(timezone=UTC)
        clock.add_job(
            self.sweep_now,
            IntervalTrigger(seconds=SWEEP_SECONDS, timezone=UTC),
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        clock.start()
        return clock

    async def sweep_now(self, now: datetime | None = None) -> None:
        try:
            report = await asyncio.get_running_loop().run_in_executor(
                self.clock_executor, _sweep, self.app, now or utcnow(), self._intake_first
            )
        except asyncio.CancelledError:
            # Stopping while a sweep runs: its thread still ends its transaction (the clock's
            # executor is waited for), and a stop is no failure of the job to log.
            return
        except Exception:
            log.exception("sweep failed; the next one runs in a minute")
            return
        if any(vars(report).values()):
            log.info("sweep: %s", report)
            self.outbox_waiting.set()

    def _intake_first(self) -> None:
        """Between the clock's transactions: mail waiting for the writer goes first, for at
        most INTAKE_FIRST_SECONDS (reminders and reports wait seconds in a burst, not mail).
        On SQLite the two take turns for the write lock, and both for the interpreter's."""
        self.writer.wait_idle(INTAKE_FIRST_SECONDS)

    def _desk_status(self) -> str:
        return desk_status(self.app.engine, utcnow(), self.app.rules().calendar.timezone)

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        loop = asyncio.get_running_loop()
        for sig, handler in (
            (signal.SIGTERM, self.stopping.set),
            (signal.SIGINT, self.stopping.set),
            (signal.SIGHUP, self.rules_changed.set),
        ):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, handler)
        await self.start()
        # Before READY: the first mails do not pay for what a process does once.
        await asyncio.gather(
            loop.run_in_executor(None, self.parse_child.start),
            loop.run_in_executor(self.executor, warm_up, self.app.pipeline),
        )
        freeze_what_lives()
        clock = self._start_clock()
        tasks = [
            asyncio.create_task(self.send_outbox_forever()),
            asyncio.create_task(self.watch_rules_forever()),
        ]
        if self.app.settings.imap:
            from smartmail.inbound.imap import start_imap

            # Each IMAP task stops its reader thread itself once `stopping` is set.
            tasks += start_imap(self.app, self.writer, self.stopping, self.outbox_waiting.set)
        tasks += keep_systemd_told(
            self.notifier, self.stopping, self.sender_executor, self._desk_status
        )
        if ready:
            ready()
        self.notifier.ready()
        await self.stopping.wait()
        log.info("stopping")
        self.notifier.stopping()
        clock.shutdown(wait=False)
        for server in self.servers:
            server.close()
            await server.wait_closed()
        if self.web is not None:
            await self.web.cleanup()
        if self.ingest_socket is not None:
            await self.ingest_socket.close()
        self.outbox_waiting.set()
        self.rules_changed.set()
        await asyncio.gather(*tasks)
        self.executor.shutdown(wait=True)
        self.parse_child.stop()
        self.sender_executor.shutdown(wait=True)
        self.clock_executor.shutdown(wait=True)


def _sweep(app: App, now: datetime, pause: Callable[[], None]) -> SweepReport:
    """One sweep, in the clock's thread: the first one loads the clock's modules there,
    while the listeners already take mail."""
    from smartmail.clock.scheduler import sweep

    return sweep(app, now, pause)
