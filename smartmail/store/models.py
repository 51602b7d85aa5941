"""SQLModel tables. Case state is written only by `smartmail.desk.cases`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, LargeBinary, Text, TypeDecorator, event, inspect
from sqlalchemy.orm import relationship
from sqlmodel import Field, Relationship, SQLModel

from smartmail.errors import SmartmailError


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, gives back timezone-aware UTC on every engine (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise SmartmailError("naive datetime given to the database; use timezone-aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _at(index: bool = False, nullable: bool = False) -> Any:
    column: Column[datetime] = Column(UTCDateTime(), index=index, nullable=nullable)
    if nullable:
        return Field(default=None, sa_column=column)
    return Field(default_factory=utcnow, sa_column=column)


def _text() -> Any:
    return Field(default="", sa_column=Column(Text, nullable=False, default=""))


class Party(SQLModel, table=True):
    """Anyone who mailed us or whom we mailed; the role comes from the rules, not from here."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True)
    name: str = ""
    created_at: datetime = _at()
    erased_at: datetime | None = _at(nullable=True)  # name and address replaced by a marker


# A wake time in the past of every sweep: the clock works the case out again in its next one.
LOOK_AGAIN = datetime(1970, 1, 1, tzinfo=UTC)


class Case(SQLModel, table=True):
    """A case; its number is its primary key."""

    # Each person's open cases (load, routing to the least loaded) are counted in the index.
    __table_args__ = (Index("ix_case_assignee_status", "assignee", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    subject: str = _text()
    status: str = Field(default="new", index=True)
    priority: str = ""
    category: str = ""
    group: str = ""
    assignee: str | None = None
    team: str = ""  # the team the case was routed to, if any (round-robin remembers by it)
    customer_id: int | None = Field(default=None, foreign_key="party.id", index=True)
    customer: Party | None = Relationship(sa_relationship=relationship("Party"))
    channel: str = "mail"  # how the customer reached us: mail | web | phone | visit | letter
    type: str | None = None  # one of the rules' `types:`
    route_reason: str = _text()
    reopen_count: int = 0
    merged_into: int | None = Field(default=None, foreign_key="case.id")
    created_at: datetime = _at(index=True)
    updated_at: datetime = _at()
    respond_due_at: datetime | None = _at(nullable=True)
    due_at: datetime | None = _at(index=True, nullable=True)
    first_response_at: datetime | None = _at(nullable=True)
    resolved_at: datetime | None = _at(nullable=True)
    closed_at: datetime | None = _at(nullable=True)
    paused_at: datetime | None = _at(nullable=True)  # the clock stops while we wait on the customer
    # All the time spent waiting on the customer, on either clock (a priority change may
    # move the case to the other one).
    waited_seconds: int = 0
    waited_business_seconds: int = 0
    # When the clock next has something to do for the case (a reminder or an escalation
    # step), so that a sweep reads only the cases due; None: nothing ahead. The clock sets
    # it (clock/wake.py); a change of what it is computed from sets it to LOOK_AGAIN.
    next_wake_at: datetime | None = Field(
        default_factory=lambda: LOOK_AGAIN,
        sa_column=Column(UTCDateTime(), index=True, nullable=True),
    )
    hold: bool = False  # legal hold (#hold): never erased until #hold off
    erased_at: datetime | None = _at(nullable=True)  # its texts replaced by a marker

    @property
    def number(self) -> int:
        assert self.id is not None, "case not flushed yet"
        return self.id


CLOCK_FIELDS = ("due_at", "priority", "status", "paused_at")


@event.listens_for(Case, "before_update")
def _clock_looks_again(_mapper: Any, _connection: Any, case: Case) -> None:
    """Whatever changes a case's deadline or step, the clock looks at it again."""
    state = inspect(case)
    if any(state.attrs[name].history.has_changes() for name in CLOCK_FIELDS):
        case.next_wake_at = LOOK_AGAIN


class ClockState(SQLModel, table=True):
    """What the clock keeps between sweeps: the rules its wake times were computed by."""

    key: str = Field(primary_key=True)
    value: str = ""


class CaseParty(SQLModel, table=True):
    """Who takes part in a case, and as what (customer, owner, contractor, cc)."""

    case_id: int = Field(foreign_key="case.id", primary_key=True)
    party_id: int = Field(foreign_key="party.id", primary_key=True, index=True)
    role: str = Field(primary_key=True)


class CaseLabel(SQLModel, table=True):
    """A free label on a case (`#label +vatten`); a case has any number of them."""

    case_id: int = Field(foreign_key="case.id", primary_key=True)
    label: str = Field(primary_key=True, index=True)


class Message(SQLModel, table=True):
    """One mail in or out; `message_id` is unique, which is what makes delivery exactly-once."""

    __table_args__ = (
        Index("ix_message_to_out", "to_addrs", "direction", "created_at"),
        # mail from one sender lately: the loop limit counts it for every mail
        Index("ix_message_from_in", "from_addr", "direction", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(unique=True, index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    direction: str  # in | out
    channel: str = ""  # smtp | lmtp | ingest | imap | system | import (smartmail import)
    from_addr: str = ""
    to_addrs: str = ""  # comma separated, lower case
    subject: str = _text()
    text: str = _text()
    visibility: str = "public"  # public | internal
    automatic: bool = False  # sent or received by a machine (acks, notices, bounces)
    template: str = ""  # for mail we send: which template wrote it
    thread_signal: str = ""  # token | references | new | none: what found the case
    guard_hits: str = ""  # the guard checks that stopped an answer, comma separated
    parse_notes: str = _text()  # how an inbound mail was read: charsets, sender source, part
    raw_sha256: str | None = None
    created_at: datetime = _at()
    erased_at: datetime | None = _at(nullable=True)  # subject, text, addresses: a marker


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_pk: int = Field(foreign_key="message.id", index=True)
    filename: str
    content_type: str
    size: int
    sha256: str
    erased_at: datetime | None = _at(nullable=True)  # the file is gone; hash and size stay


class Event(SQLModel, table=True):
    """Every change to a case: who, what, from which message."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    at: datetime = _at()
    actor: str  # an email address, or "system"
    kind: str
    detail: str = _text()
    message_pk: int | None = Field(default=None, foreign_key="message.id")


class TimeEntry(SQLModel, table=True):
    """Time worked or material used on a case, for invoicing: minutes, or an amount."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    at: datetime = _at(index=True)  # the invoicing basis is read by period
    actor: str
    minutes: int = 0
    material: str = ""
    amount: float = 0.0  # the total: quantity x unit price when both are given
    quantity: float | None = None  # `#material vattenlås 2 st 249`: 2 ...
    unit: str = ""  # ... st ...
    unit_price: float | None = None  # ... at 249 each
    text: str = _text()
    message_pk: int | None = Field(default=None, foreign_key="message.id")


class Notice(SQLModel, table=True):
    """A scheduled mail that went out: its unique key makes each reminder, escalation,
    digest and report happen once, across restarts and concurrent sweeps."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # e.g. "remind:12:2026-11-23T15:00", "digest:kalle@x:2026-11-23"
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    created_at: datetime = _at()


class Outbox(SQLModel, table=True):
    """A mail waiting to be sent, written in the same transaction as what caused it."""

    id: int | None = Field(default=None, primary_key=True)
    # indexed: erasing a message's text takes the bytes we sent of it too
    message_pk: int | None = Field(default=None, foreign_key="message.id", index=True)
    mail_from: str
    rcpt_to: str  # comma separated
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="queued", index=True)  # queued | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = _at(index=True)
    last_error: str = _text()
    created_at: datetime = _at()
    sent_at: datetime | None = _at(nullable=True)


class SmsOutbox(SQLModel, table=True):
    """An SMS waiting to be sent, written in the same transaction as what caused it. Rows to
    one number that are queued together go as one SMS (`sent_at` the same)."""

    __table_args__ = (Index("ix_smsoutbox_number_status", "to_number", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    to_email: str  # the person it is for
    to_number: str  # E.164
    kind: str = "page"  # page | escalation: what it asks of the person
    text: str = _text()
    status: str = Field(default="queued", index=True)  # queued | sent | failed | dropped
    attempts: int = 0
    next_attempt_at: datetime = _at(index=True)
    last_error: str = _text()
    created_at: datetime = _at()
    sent_at: datetime | None = _at(nullable=True)


class Suppression(SQLModel, table=True):
    """An address whose mail bounced for good: no automatic mail goes to it until `until`."""

    address: str = Field(primary_key=True)  # lower case
    reason: str = _text()
    case_id: int | None = Field(default=None, foreign_key="case.id")
    created_at: datetime = _at()
    until: datetime = _at(index=True)


class RawMail(SQLModel, table=True):
    """An inbound mail's bytes as received: in the same transaction as all it caused, so
    one commit (one fsync) makes the mail, its case and its answers durable together."""

    sha256: str = Field(primary_key=True)
    received_at: datetime = _at(index=True)
    size: int | None = None  # kept when the bytes are erased
    erased_at: datetime | None = _at(nullable=True)
    # Last: SQLite writes a large mail into a zero-filled blob in pieces (store/rawmail.py),
    # which needs the blob at the row's end to not hold the whole of it in memory.
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Quarantine(SQLModel, table=True):
    """A mail whose processing raised; kept with the error until `smartmail replay` succeeds."""

    id: int | None = Field(default=None, primary_key=True)
    raw_sha256: str = Field(index=True)
    channel: str
    mail_from: str | None = None  # "" is the null return path, None: no envelope
    rcpt_to: str = ""
    error: str = _text()
    traceback: str = _text()
    created_at: datetime = _at()
    replayed_at: datetime | None = _at(nullable=True)


class AccessLog(SQLModel, table=True):
    """Who read what of a case or a person's data, by which command or mail."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _at(index=True)
    actor: str  # a local user (`case show`), or the address that asked or received
    action: str  # case show | case show --unmasked | #case | #search | job | person ...
    case_id: int | None = Field(default=None, index=True)
    person: str = Field(default="", index=True)  # the address whose data was read, if one
    detail: str = _text()


OPEN_STATUSES = ("new", "feedback", "approved", "confirmed", "assigned")
CLOSED_STATUSES = ("resolved", "closed")


def base_status(status: str) -> str:
    """open or closed: what a status means for deadlines and lists."""
    return "closed" if status in CLOSED_STATUSES else "open"


class RevokedLink(SQLModel, table=True):
    """Staff withdrew the links to follow a case (`#revoke-link`): every link made up to
    `revoked_at` opens nothing from then on."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    revoked_at: datetime = _at()
    actor: str = ""
