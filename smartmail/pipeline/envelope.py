"""How a mail reached us, and what became of it: the words every channel and step share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OutcomeKind = Literal[
    "new_case", "reply", "follow_up", "commands", "duplicate", "stored", "quarantined", "bounce"
]


# A mail made from the fault-report page names its channel and the category chosen there.
# Only a mail that came in by the "web" channel is believed to (an envelope is ours to set).
WEB_CHANNEL_HEADER = "X-Smartmail-Channel"
FORM_CATEGORY_HEADER = "X-Smartmail-Category"


@dataclass(frozen=True)
class Envelope:
    """How the mail reached us. `mail_from` "" is the null return path; None means unknown."""

    channel: str
    mail_from: str | None = None
    rcpt_to: tuple[str, ...] = ()
    # The case a mail moved in by `smartmail import` answers by its subject, when no other
    # signal finds one (pipeline/thread.py): the sender is a party to it, checked.
    case_hint: int | None = None


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    message_id: str = ""
    case_number: int | None = None
    detail: str = ""
