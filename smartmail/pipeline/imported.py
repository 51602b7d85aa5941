"""Mail moved in from an old mailbox (`smartmail import`), stored as if it came then.

Each mail goes through the same pipeline as live mail, at the moment it was written and
with sending off (compose.SENDING_OFF): it opens, routes and owns cases, and nobody gets
an acknowledgement, notice or answer. Beside the live signals, a reply (`Re:`, `SV:`, ...)
joins the newest case of its subject when its sender is a party to that case. Mail from a
function address is the office's own answer: a public answer on the case it answers (by
References, In-Reply-To, else subject), and the case's first response.

The same bytes again are a duplicate before anything is parsed; another mail under a
known Message-ID is what the pipeline makes of it. So an import that stopped (or ran to
the end) can run again and doubles nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import bindparam
from sqlmodel import Session, col, func, select

from smartmail.desk import cases
from smartmail.mail.compose import SENDING_OFF
from smartmail.mail.msgid import plain_subject
from smartmail.mail.parse import ParsedMail, is_mail, parse
from smartmail.mail.tokens import base_address
from smartmail.pipeline.envelope import Envelope, Outcome
from smartmail.pipeline.process import Pipeline
from smartmail.rules.model import Rules
from smartmail.store import prepared
from smartmail.store.db import insert_row, load, transaction
from smartmail.store.models import OPEN_STATUSES, Case, Message, Quarantine, RawMail
from smartmail.store.rawmail import keep_raw

CHANNEL = "import"

Kind = Literal["case", "message", "answer", "duplicate", "quarantined", "refused"]
# Called in each batch's transaction with the cases it touched (the clock's claims).
Settle = Callable[[Session, set[int]], None]


@dataclass(frozen=True)
class Dated:
    raw: bytes
    at: datetime  # when it was written: it is stored as having come then
    mail: ParsedMail | None = None  # parsed already (in a worker process), else None


def parsed_or_none(raws: Sequence[bytes]) -> list[ParsedMail | None]:
    """The mails parsed, None for one whose parse raised (it is parsed again where it is
    stored, and quarantined there): run in worker processes beside the storing."""
    result: list[ParsedMail | None] = []
    for raw in raws:
        try:
            result.append(parse(raw) if is_mail(raw) else None)
        except Exception:
            result.append(None)
    return result


@dataclass(frozen=True)
class Imported:
    kind: Kind
    case_number: int | None = None
    detail: str = ""


class MoveIn:
    """Stores batches of dated mail, one transaction a batch; remembers threads by subject."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.subjects: dict[str, int] = {}  # a thread's subject -> its newest case

    def load_threads(self) -> None:
        """The subjects of the cases stored so far (an earlier run's, the live ones)."""
        with transaction(self.pipeline.engine) as session:
            rows = session.exec(select(Case.id, Case.subject).order_by(col(Case.id))).all()
        self.subjects = {_thread_key(subject): number for number, subject in rows if number}
        self.subjects.pop("", None)

    def stored_already(self, raws: Sequence[bytes]) -> list[bool]:
        """Which of these very bytes are stored (an earlier run's): no need to parse them."""
        shas = [hashlib.sha256(raw).hexdigest() for raw in raws]
        with transaction(self.pipeline.engine) as session:
            known = set(
                session.exec(select(RawMail.sha256).where(col(RawMail.sha256).in_(shas))).all()
            )
        return [sha in known for sha in shas]

    def store(self, batch: Sequence[Dated], settle: Settle) -> list[Imported]:
        """The mails in one transaction; a temporary failure stores none of them."""
        try:
            with transaction(self.pipeline.engine) as session:
                session.info[SENDING_OFF] = True
                results = [self._one(session, dated) for dated in batch]
                settle(session, {r.case_number for r in results if r.case_number is not None})
                return results
        except BaseException:
            self.load_threads()  # what this batch remembered was rolled back with it
            raise

    def _one(self, session: Session, dated: Dated) -> Imported:
        raw = dated.raw
        if not is_mail(raw):
            return Imported("refused", detail="empty")
        if len(raw) > self.pipeline.settings.max_message_size:
            return Imported("refused", detail=f"{len(raw)} bytes, over the size limit")
        sha = hashlib.sha256(raw).hexdigest()
        if _stored(session, sha):
            return Imported(_earlier_kind(session, sha))
        mail = dated.mail
        if mail is None:
            try:
                mail = parse(raw)
            except Exception:
                mail = None  # the pipeline parses it again, and quarantines what raises
        if mail is not None and base_address(mail.from_addr) in self.pipeline.function_addresses():
            return self._answer(session, mail, raw, sha, dated.at)
        hint = self._hint(session, mail) if mail is not None else None
        envelope = Envelope(CHANNEL, None, (), case_hint=hint)
        outcome = self.pipeline.process_in(session, raw, envelope, dated.at, mail)
        if isinstance(outcome, Exception):  # a temporary failure: the batch is tried again
            raise outcome
        return self._result(outcome, mail)

    def _result(self, outcome: Outcome, mail: ParsedMail | None) -> Imported:
        number = outcome.case_number
        if outcome.kind in ("new_case", "follow_up"):
            if mail is not None and number is not None and _thread_key(mail.subject):
                self.subjects[_thread_key(mail.subject)] = number
            return Imported("case", number)
        if outcome.kind in ("duplicate", "quarantined"):
            return Imported(outcome.kind, number, outcome.detail)
        return Imported("message", number)

    def _hint(self, session: Session, mail: ParsedMail) -> int | None:
        """The case a reply joins by its subject: the newest of that subject, if the sender
        is a party to it (a stranger's `Re:` to someone else's subject opens its own)."""
        if not mail.from_addr or not _is_reply(mail.subject):
            return None
        number = self.subjects.get(_thread_key(mail.subject))
        case = load(session, Case, id=number) if number is not None else None
        if case is None or not cases.is_party(session, case, mail.from_addr):
            return None
        return number

    def _answer(
        self, session: Session, mail: ParsedMail, raw: bytes, sha: str, at: datetime
    ) -> Imported:
        """Our own mail: a public answer on the case it answers (else a mail on no case)."""
        if prepared.first(session, _KNOWN_ID, id=mail.message_id) is not None:
            return Imported("duplicate")
        keep_raw(session, sha, raw, at)
        case, signal = self._answered(session, mail)
        automatic = mail.headers.get("auto-submitted", "no").strip().lower() != "no"
        values = {
            "message_id": mail.message_id,
            "direction": "out",
            "channel": CHANNEL,
            "from_addr": mail.from_addr,
            "to_addrs": ",".join((*mail.to, *mail.cc)),
            "subject": mail.subject,
            "text": mail.reply_text or mail.text,
            "visibility": "public",
            "automatic": automatic,
            "thread_signal": signal,
            "parse_notes": "; ".join(mail.notes),
            "raw_sha256": sha,
            "created_at": at,
        }
        if case is None:
            insert_row(session, Message, values)
            return Imported("answer")
        cases.add_outbound(session, case, values, at)
        if not automatic:
            cases.first_response(session, case, mail.from_addr, at)
        return Imported("answer", case.number)

    def _answered(self, session: Session, mail: ParsedMail) -> tuple[Case | None, str]:
        ids = list(dict.fromkeys((*mail.in_reply_to, *mail.references)))
        if ids:
            statement = (
                select(Message.case_id)
                .where(col(Message.message_id).in_(ids), col(Message.case_id).is_not(None))
                .order_by(col(Message.id).desc())
                .limit(1)
            )
            number = session.exec(statement).first()
            case = load(session, Case, id=number) if number is not None else None
            if case is not None:
                return case, "references"
        number = self.subjects.get(_thread_key(mail.subject))
        case = load(session, Case, id=number) if number is not None else None
        if case is not None and any(cases.is_party(session, case, to) for to in mail.to):
            return case, "subject"
        return None, "none"


def _thread_key(subject: str) -> str:
    return plain_subject(subject).casefold()


def _is_reply(subject: str) -> bool:
    """A subject with reply (or forward) prefixes: `Re: Stopp` is, `Stopp` is not."""
    return plain_subject(subject) != " ".join(subject.split())


# Statements for every mail, built once.
_STORED = select(RawMail.sha256).where(RawMail.sha256 == bindparam("sha"))
_HELD = select(Quarantine.id).where(
    Quarantine.raw_sha256 == bindparam("sha"), col(Quarantine.replayed_at).is_(None)
)
_KNOWN_ID = select(Message.id).where(Message.message_id == bindparam("id"))


def _stored(session: Session, sha: str) -> bool:
    return prepared.first(session, _STORED, sha=sha) is not None


def _earlier_kind(session: Session, sha: str) -> Kind:
    """These very bytes came before: kept on a case or a message, or still in quarantine."""
    return "quarantined" if prepared.first(session, _HELD, sha=sha) is not None else "duplicate"


def close_quiet(pipeline: Pipeline, rules: Rules, before: datetime) -> int:
    """Close the open cases moved in whose last mail is older than `before`; each is closed
    as of that last mail, so the figures count it in its own time. Returns how many."""
    imported = select(Message.case_id).where(
        Message.channel == CHANNEL, col(Message.case_id).is_not(None)
    )
    last = (
        select(Message.case_id, func.max(Message.created_at))
        .where(col(Message.case_id).in_(imported))
        .group_by(col(Message.case_id))
    )
    closed = 0
    with transaction(pipeline.engine) as session:
        for number, at in session.exec(last).all():
            if number is None or at is None or at >= before:
                continue
            case = load(session, Case, id=number)
            if case is not None and case.status in OPEN_STATUSES:
                cases.set_status(session, case, "closed", cases.SYSTEM, at, None, rules)
                closed += 1
    return closed
