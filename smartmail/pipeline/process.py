"""process(raw, envelope) -> Outcome: one inbound mail, start to end, in one transaction.

    raw bytes -> parse -> guard -> thread -> store (raw + case + outbox) -> Outcome

The raw bytes are stored in the same transaction as everything the mail causes, so one
commit makes it all durable. `process_many` stores several mails under one commit (the
daemon's group commit): a mail's failure undoes only its own work, for then the batch is
stored again with each mail in a savepoint of its own. A mail whose processing raises is a
bug, not bad input: it is quarantined (quarantine.py), and `smartmail replay` re-runs it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Engine, bindparam, func
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, col, select

from smartmail.config import Settings
from smartmail.desk import cases, customers, notify, on_call
from smartmail.desk.commands import Tagged, split_commands
from smartmail.errors import TemporaryFailure
from smartmail.mail.compose import Templates
from smartmail.mail.guard import GuardInput, GuardResult, LoopCounts, run_guard
from smartmail.mail.masking import masked_mail
from smartmail.mail.mime_scan import SpoolTo, remove_stale
from smartmail.mail.overrides import templates_for
from smartmail.mail.parse import ParsedMail, parse
from smartmail.mail.proof import prove_sender
from smartmail.mail.tokens import base_address
from smartmail.pipeline import loops, on_behalf, resends
from smartmail.pipeline.bounces import BounceStep
from smartmail.pipeline.envelope import FORM_CATEGORY_HEADER, Envelope, Outcome
from smartmail.pipeline.quarantine import keep_failed, replay_kept
from smartmail.pipeline.steer import SteerStep, wants_steering
from smartmail.pipeline.stored import discard_spooled, inbound_row, store_attachments
from smartmail.pipeline.thread import Thread, find_thread
from smartmail.rules.model import Route, Rules
from smartmail.store import prepared
from smartmail.store.blobs import BlobStore
from smartmail.store.db import (
    insert_object,
    lost,
    savepoint,
    transaction,
)
from smartmail.store.models import Case, Message, Quarantine, utcnow
from smartmail.store.rawmail import keep_raw

log = logging.getLogger(__name__)

# Statements for every mail, built once: building one costs more than running it.
_ANSWERS_SINCE = select(func.count()).where(
    Message.to_addrs == bindparam("address"),
    Message.direction == "out",
    col(Message.automatic).is_(True),
    Message.created_at >= bindparam("since"),
)


class _OneFailed(Exception):
    """A mail of a batch stored without savepoints failed: the batch is rolled back."""


class _Received(NamedTuple):
    raw: bytes
    sha: str  # of raw, hex: the key of the stored bytes
    envelope: Envelope
    mail: ParsedMail | Exception  # or what parsing raised


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        rules: Callable[[], Rules],
        templates: Templates | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.rules = rules
        self.templates = templates or Templates()
        self.attachment_store = BlobStore(settings.attachment_dir)
        # Large attachments are decoded into files beside the kept ones while a mail is read.
        self.spool_to = SpoolTo(settings.attachment_dir / ".spool")
        remove_stale(self.spool_to.directory)

    # -- the function addresses ------------------------------------------------------------

    def address(self) -> str:
        return self.settings.address or self.rules().address

    def function_addresses(self) -> frozenset[str]:
        return frozenset({self.address(), *self.rules().addresses})

    def accepts(self, recipient: str) -> bool:
        """True for a function address, also with +detail (our reply addresses)."""
        return base_address(recipient) in self.function_addresses()

    # -- processing ------------------------------------------------------------------------

    def process(
        self, raw: bytes, envelope: Envelope, now: datetime | None = None, quarantine: bool = True
    ) -> Outcome:
        """One mail in its own transaction; raises TemporaryFailure if it was not stored."""
        result = self.process_many([(raw, envelope)], now, quarantine)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def process_many(
        self,
        mails: Sequence[tuple[bytes, Envelope]],
        now: datetime | None = None,
        quarantine: bool = True,
        parsed_ahead: Sequence[Callable[[], ParsedMail | None]] | None = None,
    ) -> list[Outcome | Exception]:
        """Several mails in one transaction: one commit makes all durable.

        Each result is the mail's Outcome, or the exception that kept it from being stored:
        a TemporaryFailure (try again later), or with `quarantine` off the error itself.
        A database that fails the whole transaction fails every mail in it.
        `parsed_ahead` gives each mail as parsed elsewhere (`ParseChild`), asked for right
        before the mail is parsed here, which it is where that gives None.
        """
        now = now or utcnow()
        ahead = parsed_ahead or [_nowhere] * len(mails)
        # Parsed before the transaction: the write lock is held for the storing alone.
        parsed = [
            _Received(
                raw,
                hashlib.sha256(raw).hexdigest(),
                envelope,
                elsewhere() or _parsed(raw, envelope, self.spool_to),
            )
            for (raw, envelope), elsewhere in zip(mails, ahead, strict=True)
        ]
        try:
            stored = self._all_at_once(parsed, now)
            if stored is not None:
                return list(stored)  # a list of outcomes as one of outcomes or errors
            with transaction(self.engine) as session:
                return [self._one(session, received, now, quarantine) for received in parsed]
        except TemporaryFailure as exc:
            return [exc] * len(mails)
        finally:  # what was not kept goes now, not when the last reference does
            for received in parsed:
                discard_spooled(received.mail)

    def process_in(
        self,
        session: Session,
        raw: bytes,
        envelope: Envelope,
        now: datetime,
        mail: ParsedMail | None = None,
    ) -> Outcome | Exception:
        """One mail in the caller's transaction, in a savepoint of its own (`smartmail
        import` stores many so, each at its own time); `mail` if the caller parsed it."""
        sha = hashlib.sha256(raw).hexdigest()
        received = _Received(raw, sha, envelope, mail or _parsed(raw, envelope, self.spool_to))
        return self._one(session, received, now, True)

    def _all_at_once(self, parsed: Sequence[_Received], now: datetime) -> list[Outcome] | None:
        """The common case, where no mail fails: all of them without a savepoint each.

        None when one failed (a resend, bad mail, a bug): nothing of the batch is kept, and
        the caller stores each mail in a savepoint of its own, which keeps the others.
        A database that is gone fails the whole batch here, not once more there.
        """
        if any(isinstance(received.mail, Exception) for received in parsed):
            return None
        try:
            with transaction(self.engine) as session:
                return [self._store_plain(session, received, now) for received in parsed]
        except _OneFailed:
            return None

    def _store_plain(self, session: Session, received: _Received, now: datetime) -> Outcome:
        raw, sha, envelope, mail = received
        assert not isinstance(mail, Exception), "mail that did not parse is stored in a savepoint"
        try:
            keep_raw(session, sha, raw, now)
            outcome = self._handle(session, mail, sha, envelope, now)
            session.flush()  # what this mail changed fails here, as this mail's, if it fails
            return outcome
        except DBAPIError as exc:
            if lost(exc):
                raise
            raise _OneFailed from exc
        except Exception as exc:
            raise _OneFailed from exc

    def _one(
        self, session: Session, received: _Received, now: datetime, quarantine: bool
    ) -> Outcome | Exception:
        raw, sha, envelope, mail = received
        try:
            if isinstance(mail, Exception):
                raise mail
            return self._store(session, mail, raw, sha, envelope, now)
        except TemporaryFailure as exc:
            return exc
        except DBAPIError as exc:
            if lost(exc):
                raise  # the transaction is gone: every mail in it is a temporary failure
            error: Exception = exc
        except Exception as exc:
            error = exc
        if not quarantine:
            return error
        log.error("quarantined mail %s from %s", sha[:12], envelope.mail_from, exc_info=error)
        try:
            with savepoint(session):
                detail = keep_failed(session, raw, sha, envelope, error, now)
                return Outcome("quarantined", detail=detail)
        except DBAPIError as exc:
            if lost(exc):
                raise
            log.exception("could not quarantine mail %s", sha[:12])
            return TemporaryFailure(f"could not quarantine: {exc}")

    def _store(
        self,
        session: Session,
        mail: ParsedMail,
        raw: bytes,
        sha: str,
        envelope: Envelope,
        now: datetime,
    ) -> Outcome:
        for attempt in range(4):
            try:
                with savepoint(session):
                    keep_raw(session, sha, raw, now)
                    return self._handle(session, mail, sha, envelope, now)
            except IntegrityError:
                # The unique Message-ID says we have it already: stored once, answered once.
                # Unless it is another mail under that ID: kept then, under an ID of its own.
                known = resends.seen(session, mail, raw, sha)
                if known == "resent":
                    return Outcome("duplicate", mail.message_id)
                if known == "reused":
                    kept_as = resends.own_id(mail, raw)
                    log.warning(
                        "%s is another mail's Message-ID: kept as %s", mail.message_id, kept_as
                    )
                    mail = replace(mail, message_id=kept_as)
                    continue
                if attempt == 3:
                    raise
                # Not a resend: a mail processed alongside (PostgreSQL runs them side by side)
                # first added a party this one adds too (sender, owner). It has committed by
                # now, so the next try, a new statement, sees it.
        raise TemporaryFailure("kept clashing with mail stored alongside it")

    def _guard(
        self,
        session: Session,
        mail: ParsedMail,
        envelope: Envelope,
        case: Case | None,
        role: str,
        tagged: Tagged,
        rules: Rules,
        now: datetime,
    ) -> tuple[GuardResult, LoopCounts]:
        """What the guard says of the mail (automatic, a loop, too many answers lately), and
        the mail from its sender lately it counted."""
        # Only a mail that opens a case gets an automatic answer: count recent ones only then.
        answered = 0
        if case is None or case.status == "closed":
            answered = _answers_since(session, mail.from_addr, now - timedelta(hours=1))
        # Commands are what a person wants done: never held back as a loop or a machine's.
        loop_counts, repeated = LoopCounts(), False
        if not tagged.commands:
            since = now - rules.loop_limit.within
            loop_counts, repeated = loops.recent(session, case, mail, since)
        guard = run_guard(
            GuardInput(
                mail=mail,
                envelope_from=envelope.mail_from,
                own_addresses=self.function_addresses(),
                answers_last_hour=answered,
                answers_per_hour=rules.answers_per_hour,
                staff=role != "customer" and not tagged.commands,
                repeated=repeated,
                loops=loop_counts,
                loop_limit=rules.loop_limit.mails,
            )
        )
        return guard, loop_counts

    def _handle(
        self, session: Session, mail: ParsedMail, sha: str, envelope: Envelope, now: datetime
    ) -> Outcome:
        rules = self.rules()
        if rules.privacy.mask_stored:  # personal numbers never reach the tables
            mail = masked_mail(mail)
        bounce = BounceStep(self.notify_context(rules), self.function_addresses())
        returned = bounce.run(session, mail, sha, envelope, now)
        if returned is not None:  # a bounce of our own mail: on its case, never answered
            return returned
        thread = find_thread(
            session, mail, envelope, self.function_addresses(), self.settings.secret
        )
        role = rules.role_of(mail.from_addr) if mail.from_addr else "customer"
        tagged = split_commands(mail.reply_text)
        guard, loop_counts = self._guard(
            session, mail, envelope, thread.case, role, tagged, rules, now
        )
        message = _inbound_message(mail, sha, envelope, guard, thread, now)
        case = thread.case
        if wants_steering(mail, guard, role, tagged, case):
            proof = prove_sender(
                mail,
                envelope.rcpt_to,
                self.function_addresses(),
                self.settings.secret,
                rules.trusted_authserv_id,
            )
            if proof.ok and on_behalf.opens_case(role, tagged):  # a call, a visit, a letter
                return self._on_behalf(session, mail, message, envelope, guard, role, tagged, now)
            # A customer's own words may start with "#" too: unproven, it is an ordinary mail.
            if proof.ok or role != "customer":
                step = SteerStep(rules, self.notify_context(rules), self.attachment_store)
                return step.run(session, mail, message, thread, role, tagged, proof, now)
        if case is not None and (case.status != "closed" or message.automatic):
            outcome = self._add_to_case(session, mail, message, case, role, thread, now)
            self._loop_held(session, guard, case, message, loop_counts, now)
            return outcome
        if not guard.may_open_case:
            insert_object(session, message)
            store_attachments(session, self.attachment_store, mail, message)
            return Outcome("stored", mail.message_id, None, ",".join(guard.hits))
        new_case = self._new_case(session, mail, message, envelope, guard, now)
        self._loop_held(session, guard, new_case, message, loop_counts, now)
        if case is not None:  # it answered a closed case
            cases.follow_up_of(session, new_case, case, now)
            return Outcome("follow_up", mail.message_id, new_case.number, ",".join(guard.hits))
        return Outcome("new_case", mail.message_id, new_case.number, ",".join(guard.hits))

    def _on_behalf(
        self,
        session: Session,
        mail: ParsedMail,
        message: Message,
        envelope: Envelope,
        guard: GuardResult,
        role: str,
        tagged: Tagged,
        now: datetime,
    ) -> Outcome:
        """Staff open a case for a customer (#customer): routed like the customer's mail."""
        rules = self.rules()

        def open_case(
            session: Session,
            mail: ParsedMail,
            message: Message,
            guard: GuardResult,
            channel: str,
            now: datetime,
        ) -> Case:
            return self._new_case(session, mail, message, envelope, guard, now, channel)

        context = self.notify_context(rules)
        step = on_behalf.OnBehalfStep(rules, context, open_case, self.function_addresses())
        return step.run(session, mail, message, guard, role, tagged, now)

    def _add_to_case(
        self,
        session: Session,
        mail: ParsedMail,
        message: Message,
        case: Case,
        role: str,
        thread: Thread,
        now: datetime,
    ) -> Outcome:
        """A reply on an open case (or machine mail about any case); the owner hears of it."""
        rules = self.rules()
        sender = cases.party_for(session, mail.from_addr or "unknown@invalid", mail.from_name, now)
        cases.add_inbound(session, case, message, sender, role, now, rules)
        store_attachments(session, self.attachment_store, mail, message)
        if not message.automatic:
            notify.tell_owner(self.notify_context(rules), session, case, sender, message.text, now)
        return Outcome("reply", mail.message_id, case.number, thread.signal)

    def _loop_held(
        self,
        session: Session,
        guard: GuardResult,
        case: Case,
        message: Message,
        counts: LoopCounts,
        now: datetime,
    ) -> None:
        """Past the rules' loop_limit: the case hears of it once, its owner too."""
        if "loop_limit" in guard.hits:
            rules = self.rules()
            context = self.notify_context(rules)
            loops.limit_reached(context, session, case, message, counts, rules.loop_limit, now)

    def _new_case(
        self,
        session: Session,
        mail: ParsedMail,
        message: Message,
        envelope: Envelope,
        guard: GuardResult,
        now: datetime,
        channel: str = "",
    ) -> Case:
        """Open, route and own a case; acknowledge it and tell whoever must act."""
        rules = self.rules()
        # A new case keeps the whole text: the signature may hold the flat and phone number.
        message.text = mail.text or message.text
        case, route = self._open(session, mail, message, envelope, rules, now, channel)
        context = self.notify_context(rules)
        if guard.may_answer:
            notify.acknowledge(context, session, case, mail, now)
        if "loop_limit" in guard.hits:  # opened, but it causes no mail: see _loop_held
            return case
        on_call.page_new_case(context, session, case, guard.machine, now, message)
        notify.owner_of_new_case(context, session, case, mail, now)
        if rules.role_of(route.recipient) == "contractor":
            # A contractor takes the job; the case itself waits for an owner among the staff.
            person = rules.person(route.recipient)
            name = person.name if person else ""
            contractor = cases.party_for(session, route.recipient, name, now)
            cases.forward(session, case, contractor, cases.SYSTEM, now, message)
            notify.job(context, session, case, route.recipient, now)
        return case

    def _open(
        self,
        session: Session,
        mail: ParsedMail,
        message: Message,
        envelope: Envelope,
        rules: Rules,
        now: datetime,
        channel: str = "",
    ) -> tuple[Case, Route]:
        customer = cases.party_for(
            session, mail.from_addr or "unknown@invalid", mail.from_name, now
        )
        # the customer's earlier mail may name their area
        known = customers.known_text(session, customer) if rules.uses_areas else ""
        route = self._route(mail, envelope, rules, known)
        case = cases.open_case(
            session,
            subject=mail.subject,
            customer=customer,
            channel=channel or ("web" if envelope.channel == "web" else "mail"),
            route=route,
            rules=rules,
            message=message,
            now=now,
        )
        store_attachments(session, self.attachment_store, mail, message)
        return case, route

    def _route(self, mail: ParsedMail, envelope: Envelope, rules: Rules, known: str) -> Route:
        """By the rules; a post from the fault-report page within the category chosen there."""
        arrived = self._arrived_at(mail, envelope)
        chosen = mail.headers.get(FORM_CATEGORY_HEADER.lower(), "")
        if envelope.channel == "web" and chosen:
            return rules.route_in(chosen, mail, arrived, known)
        return rules.route(mail, arrived, known)

    def notify_context(self, rules: Rules) -> notify.Context:
        return notify.Context(
            rules=rules,
            templates=templates_for(self.templates, rules.templates),
            address=self.address(),
            secret=self.settings.secret,
            web_url=self.settings.web_url,
        )

    def _arrived_at(self, mail: ParsedMail, envelope: Envelope) -> str | None:
        """The function address this mail came to (envelope first, then the headers)."""
        own = self.function_addresses()
        for recipient in (*envelope.rcpt_to, *mail.to, *mail.cc):
            if base_address(recipient) in own:
                return base_address(recipient)
        return None

    def replay(self, ids: list[int] | None = None, now: datetime | None = None) -> list[str]:
        """Re-run quarantined mail (all waiting, or the given ids); returns a line per mail."""
        at = now or utcnow()

        def rerun(raw: bytes, row: Quarantine) -> Outcome:
            rcpt_to = tuple(r for r in row.rcpt_to.split(",") if r)
            return self.process(raw, Envelope(row.channel, row.mail_from, rcpt_to), at, False)

        return replay_kept(self.engine, rerun, ids, at)


def _nowhere() -> None:
    """No mail parsed elsewhere."""
    return None


def _parsed(raw: bytes, envelope: Envelope, spool_to: SpoolTo) -> ParsedMail | Exception:
    """The parsed mail, or what parsing raised (a bug: the mail is quarantined)."""
    try:
        return parse(raw, envelope.mail_from, spool_to)
    except Exception as exc:
        return exc


def _answers_since(session: Session, address: str, since: datetime) -> int:
    if not address:
        return 0
    return int(prepared.first(session, _ANSWERS_SINCE, address=address.lower(), since=since))


def _inbound_message(
    mail: ParsedMail,
    sha: str,
    envelope: Envelope,
    guard: GuardResult,
    thread: Thread,
    now: datetime,
) -> Message:
    return inbound_row(
        mail,
        sha,
        envelope,
        now,
        text=mail.reply_text or mail.text,  # what is new in it; a new case takes all of it
        visibility="internal" if guard.machine else "public",
        automatic=guard.machine,
        thread_signal=";".join((thread.signal, *thread.notes)),
        guard_hits=",".join(guard.hits),
    )
