"""Group commit: mail that arrives while the writer is busy is stored in one transaction.

Every intake (SMTP, LMTP, IMAP) hands its mail here. A mail that finds the writer idle
is processed at once, alone; mail that arrives meanwhile waits and is then processed
together under one commit (a mail that fails there fails alone: see `process_many`). So a
burst costs one fsync instead of one per mail, and no mail waits on a timer.

With a `ParseChild`, each mail is parsed in that child process as it arrives, while the
writer stores the ones before it (`parse_child.py` says why). When the mail's turn comes,
the writer takes the child's parse if it is there, waits for it if the child is at that
mail (briefly: see `_ready`), and parses the mail itself if the child has not begun it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import Executor, Future
from functools import partial

from smartmail.errors import TemporaryFailure
from smartmail.mail.parse import ParsedMail
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.pipeline.parse_child import ParseChild
from smartmail.pipeline.process import Pipeline

log = logging.getLogger(__name__)

MAX_BATCH = 32  # bounds how long the first mail of a burst waits for the commit
CHILD_FINISHING = 0.05  # seconds the writer waits for a mail the child is at (parsed in ~1 ms)

# A mail waiting for the writer: its bytes, envelope, answer, and its parse in the child.
_Waiting = tuple[bytes, Envelope, "asyncio.Future[Outcome]", "Future[ParsedMail | None] | None"]


class GroupCommit:
    """Queues mail for the pipeline; `writers` batches may run at once (1 on SQLite)."""

    def __init__(
        self,
        pipeline: Pipeline,
        executor: Executor,
        writers: int = 1,
        parse_child: ParseChild | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.executor = executor
        self.writers = writers
        self.parse_child = parse_child
        self.running = 0
        self.waiting: list[_Waiting] = []
        self.idle = threading.Event()  # no mail waiting for the writer or being stored
        self.idle.set()
        self.tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    async def process(self, raw: bytes, envelope: Envelope) -> Outcome:
        """The mail's Outcome once it is committed; raises TemporaryFailure if it was not."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        parsed = None if self.parse_child is None else self.parse_child.ask(raw, envelope.mail_from)
        self.waiting.append((raw, envelope, future, parsed))
        self.idle.clear()
        if self.running < self.writers:
            self.running += 1
            task = asyncio.create_task(self._drain())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await future

    def wait_idle(self, at_most: float) -> None:
        """Wait until no mail waits for the writer, at most `at_most` seconds: the clock's
        work gives intake its turn (any thread may call it; the loop's must not)."""
        self.idle.wait(at_most)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                mails = [(raw, envelope) for raw, envelope, _future, _parsed in batch]
                try:
                    ahead = [partial(_ready, parsed) for _raw, _env, _future, parsed in batch]
                    store = partial(self.pipeline.process_many, mails, parsed_ahead=ahead)
                    results = await loop.run_in_executor(self.executor, store)
                except Exception as exc:  # the executor is shut down, or a bug outside a mail
                    log.exception("could not process %d mails", len(batch))
                    results = [TemporaryFailure(str(exc))] * len(batch)
                for (_raw, _envelope, future, _parsed), result in zip(batch, results, strict=True):
                    if future.done():  # the client went away meanwhile
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                # The answers go out before the next batch starts: once the writer's thread
                # holds the interpreter lock again, each answer could wait for it.
                await asyncio.sleep(0)
        finally:
            self.running -= 1
            if not self.running and not self.waiting:
                self.idle.set()


def _ready(parsed: Future[ParsedMail | None] | None) -> ParsedMail | None:
    """The child's parse of a mail when the writer asks (right before it would parse the
    mail itself), else None: then the writer parses it. One the child has not begun is
    withdrawn; one it is at is waited for, at most CHILD_FINISHING (the child's answer
    cannot come in while the writer holds the interpreter lock; parsing it again took
    longer)."""
    if parsed is None:
        return None
    if parsed.cancel():  # not asked yet: the child gets on with the mails that wait
        return None
    if not parsed.done():
        # Begun: the child is at this very mail, and its answer needs the interpreter lock
        # that the writer holds; waiting here lets it in, and costs less than parsing.
        with contextlib.suppress(TimeoutError):
            parsed.result(timeout=CHILD_FINISHING)
        if not parsed.done():
            return None
    if parsed.cancelled():
        return None
    if parsed.exception() is not None:  # the asking thread is shut down, or a bug there
        log.error("parsing in the child failed", exc_info=parsed.exception())
        return None
    return parsed.result()
