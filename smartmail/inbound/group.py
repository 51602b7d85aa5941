"""Group commit: mail that arrives while the writer is busy is stored in one transaction.

Every intake (SMTP, LMTP, IMAP) hands its mail here. A mail that finds the writer idle
is processed at once, alone; mail that arrives meanwhile waits and is then processed
together under one commit (a mail that fails there fails alone: see `process_many`). So a
burst costs one fsync instead of one per mail, and no mail waits on a timer.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor

from smartmail.errors import TemporaryFailure
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.pipeline.process import Pipeline

log = logging.getLogger(__name__)

MAX_BATCH = 32  # bounds how long the first mail of a burst waits for the commit


class GroupCommit:
    """Queues mail for the pipeline; `writers` batches may run at once (1 on SQLite)."""

    def __init__(self, pipeline: Pipeline, executor: Executor, writers: int = 1) -> None:
        self.pipeline = pipeline
        self.executor = executor
        self.writers = writers
        self.running = 0
        self.waiting: list[tuple[bytes, Envelope, asyncio.Future[Outcome]]] = []
        self.tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def process(self, raw: bytes, envelope: Envelope) -> Outcome:
        """The mail's Outcome once it is committed; raises TemporaryFailure if it was not."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.waiting.append((raw, envelope, future))
        if self.running < self.writers:
            self.running += 1
            task = asyncio.create_task(self._drain())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                mails = [(raw, envelope) for raw, envelope, _future in batch]
                try:
                    results = await loop.run_in_executor(
                        self.executor, self.pipeline.process_many, mails
                    )
                except Exception as exc:  # the executor is shut down, or a bug outside a mail
                    log.exception("could not process %d mails", len(batch))
                    results = [TemporaryFailure(str(exc))] * len(batch)
                for (_raw, _envelope, future), result in zip(batch, results, strict=True):
                    if future.done():  # the client went away meanwhile
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.running -= 1
