"""`smartmail import`: a mailbox moved in, oldest first, a batch a transaction.

The mails are listed with their dates first (inbound/mailboxes.py), then stored in batches
of `BATCH` through pipeline/imported.py with sending off; a progress bar counts cases,
messages, answers, skipped duplicates, quarantined and refused mail as it goes. A stop
(Ctrl-C, SIGTERM) loses the batch in flight only; the next run skips what is stored. At the
end, the cases moved in whose last mail is older than `closed_before` are closed.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from multiprocessing import get_context
from typing import TextIO

from sqlmodel import Session
from tqdm import tqdm

from smartmail.app import App
from smartmail.clock.scheduler import claim_deadlines
from smartmail.inbound.mailboxes import Found, Mailbox
from smartmail.mail.parse import ParsedMail
from smartmail.pipeline.imported import Dated, Imported, MoveIn, close_quiet, parsed_or_none
from smartmail.store.models import utcnow

BATCH = 200
PARSERS = 2  # worker processes parsing ahead (at most one per core)
AHEAD = 2  # batches parsing while one is stored

_WORDS = {
    "cases": "cases",
    "messages": "messages",
    "answers": "answers",
    "duplicates": "duplicates skipped",
    "quarantined": "quarantined",
    "refused": "refused",
}


@dataclass
class Counts:
    found: int = 0
    done: int = 0
    cases: int = 0  # opened
    messages: int = 0  # on a case, or kept on none (automatic mail)
    answers: int = 0  # the office's own mail, as answers
    duplicates: int = 0
    quarantined: int = 0
    refused: int = 0  # empty, or over the size limit
    closed: int = 0

    def add(self, result: Imported) -> None:
        self.done += 1
        name = {"case": "cases", "message": "messages", "answer": "answers"}.get(
            result.kind, "duplicates" if result.kind == "duplicate" else result.kind
        )
        setattr(self, name, getattr(self, name) + 1)

    def line(self) -> str:
        return ", ".join(
            f"{_WORDS[f.name]} {getattr(self, f.name)}" for f in fields(self) if f.name in _WORDS
        )


def move_in(
    app: App,
    mailbox: Mailbox,
    closed_before: datetime,
    counts: Counts,
    progress: TextIO | None,
    batch_size: int = BATCH,
) -> None:
    """Every mail of `mailbox`, oldest first; `counts` says how far it got, also after a stop."""
    step = MoveIn(app.pipeline)
    step.load_threads()
    found = [f for _, f in sorted(enumerate(mailbox.find()), key=lambda p: (p[1].at, p[0]))]
    counts.found = len(found)
    rules = app.rules()

    def settle(session: Session, touched: set[int]) -> None:
        claim_deadlines(session, rules, touched, utcnow())

    chunks = [found[start : start + batch_size] for start in range(0, len(found), batch_size)]
    with _parsers() as pool:
        parsed = _parsed_ahead(pool, mailbox, chunks, step.stored_already)
        with tqdm(total=len(found), unit="mail", file=progress, disable=progress is None) as bar:
            for chunk, raws, mails in parsed:
                batch = [Dated(r, f.at, m) for r, f, m in zip(raws, chunk, mails, strict=True)]
                for result in step.store(batch, settle):
                    counts.add(result)
                bar.update(len(chunk))
                bar.set_postfix_str(counts.line(), refresh=False)
    counts.closed = close_quiet(app.pipeline, rules, closed_before)


Parsed = tuple[list[Found], list[bytes], list[ParsedMail | None]]


@contextmanager
def _parsers() -> Iterator[ProcessPoolExecutor]:
    """Worker processes that parse the next batches while this one stores (parsing is
    about half the work). Forked before any thread of ours starts; they ignore Ctrl-C,
    which stops the import here, and are stopped with it."""
    workers = max(1, min(PARSERS, os.cpu_count() or 1))
    pool = ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_quiet)
    try:
        for _ in range(workers):
            pool.submit(_quiet).result()  # every worker forked now, not beside the bar's thread
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _quiet() -> None:
    for stop in (signal.SIGINT, signal.SIGTERM):  # the import stops, and stops them
        signal.signal(stop, signal.SIG_IGN)


def _parsed_ahead(
    pool: ProcessPoolExecutor,
    mailbox: Mailbox,
    chunks: list[list[Found]],
    stored: Callable[[list[bytes]], list[bool]],
) -> Iterator[Parsed]:
    """Each chunk with its bytes and parsed mails, the next ones parsing meanwhile; bytes
    stored already (a run again) are not parsed: they are duplicates."""
    ahead: deque[tuple[list[Found], list[bytes], Future[list[ParsedMail | None]]]] = deque()
    for chunk in chunks:
        raws = list(mailbox.read([f.key for f in chunk]))
        fresh = [b"" if known else raw for raw, known in zip(raws, stored(raws), strict=True)]
        ahead.append((chunk, raws, pool.submit(parsed_or_none, fresh)))
        if len(ahead) > AHEAD:
            done_chunk, done_raws, future = ahead.popleft()
            yield done_chunk, done_raws, future.result()
    while ahead:
        done_chunk, done_raws, future = ahead.popleft()
        yield done_chunk, done_raws, future.result()
