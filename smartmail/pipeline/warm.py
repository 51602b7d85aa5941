"""Warming the pipeline before the first mail, on a scratch database of its own.

The first mails after a start each paid for what is done once per process: the ORM's
mappers, compiling the statements and the mail templates, reading the catalogues and the
locale data, the parsers' first use. On 8 connections that took the first mails' answer
from 70 to over 300 ms. Here a new mail and a reply to it go through a twin of the
pipeline (the same rules, templates and code) on a throwaway SQLite database in a
temporary directory, so nothing reaches the real one: no case number is taken, no mail
or SMS is queued. The statements are compiled for SQLite; on PostgreSQL they are compiled
at the first mail as before, which is the smaller part.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import tempfile
import threading
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from smartmail.mail.tokens import case_token
from smartmail.pipeline.envelope import Envelope
from smartmail.pipeline.process import Pipeline
from smartmail.store.db import make_engine

log = logging.getLogger(__name__)

CUSTOMER = "kund@example.org"


def warm_up(pipeline: Pipeline) -> None:
    """Run two sample mails through a twin of `pipeline`; never raises (it only warms)."""
    quiet = _QuietThread(threading.get_ident())
    # On the handlers: a logger's own filter does not see what its children log.
    handlers = [*logging.getLogger().handlers, *logging.getLogger("smartmail").handlers]
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        with tempfile.TemporaryDirectory(prefix="smartmail-warm-") as scratch:
            _run_twin(pipeline, Path(scratch))
    except Exception:  # a warm-up that fails costs the first mail its speed, nothing else
        log.debug("warming the pipeline failed", exc_info=True)
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)


def freeze_what_lives() -> None:
    """Keep what the started daemon holds out of the collector's full passes.

    The modules, rules, templates, compiled statements and caches live as long as the
    process, and each full collection walked all of them again: 50 to 100 ms on the
    development machine, in which no thread ran and every mail in flight waited for its
    answer. Collected first, so that no garbage is kept for good (`gc.freeze`)."""
    gc.collect()
    gc.freeze()


def _run_twin(pipeline: Pipeline, scratch: Path) -> None:
    settings = dataclasses.replace(
        pipeline.settings, data_dir=scratch, database_url=f"sqlite:///{scratch / 'warm.db'}"
    )
    engine = make_engine(settings.database_url)
    try:
        twin = Pipeline(settings, engine, pipeline.rules, pipeline.templates)
        address = twin.address()
        envelope = Envelope("smtp", CUSTOMER, (address,))
        first = twin.process(sample_mail(address, "Stopp i avloppet"), envelope)
        if first.case_number is not None:
            token = case_token(first.case_number, settings.secret)
            twin.process(sample_mail(address, f"Sv: Stopp i avloppet {token}"), envelope)
    finally:
        engine.dispose()


def sample_mail(address: str, subject: str) -> bytes:
    """A tenant's mail as most arrive: Swedish, plain text and HTML."""
    msg = EmailMessage()
    msg["From"] = f"Eva Lind <{CUSTOMER}>"
    msg["To"] = address
    msg["Subject"] = subject
    msg["Date"] = "Fri, 04 Dec 2026 09:00:00 +0100"
    msg.set_content("Hej!\n\nDet är stopp i avloppet i köket.\n\nMvh Eva Lind\n")
    msg.add_alternative("<p>Hej!</p><p>Det är stopp i avloppet i köket.</p><p>Mvh Eva</p>", "html")
    return msg.as_bytes(policy=SMTP)


class _QuietThread(logging.Filter):
    """Drops the log lines of the warming thread: its sample case is nobody's business."""

    def __init__(self, thread: int) -> None:
        super().__init__()
        self.thread = thread

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread
