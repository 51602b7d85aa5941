"""One asyncio process: SMTP/LMTP listeners, the outbox sender and (later) the scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from smartmail.config import HostPort, Settings
from smartmail.inbound.smtp import MailHandler, make_server_factory
from smartmail.models import utcnow
from smartmail.pipeline import Pipeline
from smartmail.sender import Transport, deliver_due

log = logging.getLogger(__name__)

SENDER_POLL_SECONDS = 5.0


class Daemon:
    def __init__(
        self, settings: Settings, engine: Engine, pipeline: Pipeline, transport: Transport
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.pipeline = pipeline
        self.transport = transport
        # SQLite takes one writer at a time: queueing in one thread beats lock retries.
        workers = 1 if engine.dialect.name == "sqlite" else 4
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pipeline")
        self.sender_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sender")
        self.outbox_waiting = asyncio.Event()
        self.stopping = asyncio.Event()
        self.servers: list[asyncio.Server] = []

    async def start(self) -> None:
        hostname = self.pipeline.address().rpartition("@")[2] or "localhost"
        await self._listen(self.settings.listen, "smtp", hostname)
        if self.settings.lmtp_listen:
            await self._listen(self.settings.lmtp_listen, "lmtp", hostname)

    async def _listen(self, where: HostPort, channel: str, hostname: str) -> None:
        handler = MailHandler(self.pipeline, self.executor, channel, self.outbox_waiting.set)
        factory = make_server_factory(
            handler,
            lmtp=channel == "lmtp",
            hostname=hostname,
            max_size=self.settings.max_message_size,
        )
        server = await asyncio.get_running_loop().create_server(factory, where.host, where.port)
        self.servers.append(server)
        port = server.sockets[0].getsockname()[1]
        log.info("%s listening on %s:%s", channel.upper(), where.host, port)

    async def send_outbox_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            try:
                report = await loop.run_in_executor(
                    self.sender_executor, deliver_due, self.engine, self.transport, utcnow()
                )
                if report.sent or report.failed or report.retried:
                    log.info("outbox: %s", report)
            except Exception:
                log.exception("outbox delivery pass failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outbox_waiting.wait(), SENDER_POLL_SECONDS)
            self.outbox_waiting.clear()

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stopping.set)
        await self.start()
        sender = asyncio.create_task(self.send_outbox_forever())
        if ready:
            ready()
        await self.stopping.wait()
        log.info("stopping")
        for server in self.servers:
            server.close()
            await server.wait_closed()
        self.outbox_waiting.set()
        await sender
        self.executor.shutdown(wait=True)
        self.sender_executor.shutdown(wait=True)
