"""`smartmail import`: a mailbox moved in, oldest first, a batch a transaction.

The mails are listed with their dates first (inbound/mailboxes.py), then stored in batches
of `BATCH` through pipeline/imported.py with sending off; a progress bar counts cases,
messages, answers, skipped duplicates, quarantined and refused mail as it goes. A stop
(Ctrl-C, SIGTERM) loses the batch in flight only; the next run skips what is stored. At the
end, the cases moved in whose last mail is older than `closed_before` are closed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import TextIO

from sqlmodel import Session
from tqdm import tqdm

from smartmail.app import App
from smartmail.clock.scheduler import claim_deadlines
from smartmail.inbound.mailboxes import Mailbox
from smartmail.pipeline.imported import Dated, Imported, MoveIn, close_quiet

BATCH = 200

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
        claim_deadlines(session, rules, touched)

    with tqdm(
        total=len(found), unit="mail", file=progress, disable=progress is None, leave=True
    ) as bar:
        for start in range(0, len(found), batch_size):
            chunk = found[start : start + batch_size]
            raws = mailbox.read([f.key for f in chunk])
            batch = [Dated(raw, f.at) for raw, f in zip(raws, chunk, strict=True)]
            for result in step.store(batch, settle):
                counts.add(result)
            bar.update(len(chunk))
            bar.set_postfix_str(counts.line(), refresh=False)
    counts.closed = close_quiet(app.pipeline, rules, closed_before)
