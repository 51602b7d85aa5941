"""What must never get an answer (or never open a case). Pure: decisions from plain data.

Checks run in the order of GUARD_CHECKS; every hit is recorded on the stored message so that
`case show` can say why a mail was not answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from smartmail.mail import machine
from smartmail.mail.parse import ParsedMail
from smartmail.mail.tokens import base_address

LOOP_HEADER = "X-Smartmail-Loop"
Effect = Literal["no_case", "no_answer"]
_DAEMON_NAMES = ("mailer-daemon", "postmaster", "mail delivery subsystem", "mail delivery system")


@dataclass(frozen=True)
class LoopCounts:
    """Mail in the rules' `loop_limit.within` before this one, per case and per address."""

    case_in: int = 0  # mail that came in on this mail's case
    case_out: int = 0  # mail we sent on it
    address_in: int = 0  # mail from this mail's sender
    address_out: int = 0  # mail we sent to the sender because someone wrote (not notices)

    def over(self, limit: int) -> tuple[str, ...]:
        """The counts that reached `limit`, as `name=count`."""
        counts = vars(self).items()
        return tuple(f"{name}={count}" for name, count in counts if count >= limit)


@dataclass(frozen=True)
class GuardInput:
    mail: ParsedMail
    envelope_from: str | None  # "" is the null return path; None when the channel has no envelope
    own_addresses: frozenset[str]  # our function addresses, lower case
    answers_last_hour: int = 0  # automatic answers we sent to this sender in the last hour
    answers_per_hour: int = 10
    staff: bool = False  # from staff, a manager or a contractor: their words may go to customers
    repeated: bool = False  # the sender sent the same text within the loop limit's time
    # all 0 for mail that carries commands: those are never held back
    loops: LoopCounts = field(default_factory=LoopCounts)
    loop_limit: int = 10  # the rules' loop_limit.mails


@dataclass(frozen=True)
class GuardCheck:
    name: str
    description: str
    effect: Effect
    check: Callable[[GuardInput], bool]
    machine: bool = True  # a hit means a machine sent it (not just that we may not answer)


@dataclass(frozen=True)
class GuardResult:
    hits: tuple[str, ...]
    may_open_case: bool
    may_answer: bool
    machine: bool  # sent by a machine: stored as internal, never reopens a case


def _header(data: GuardInput, name: str) -> str:
    return data.mail.headers.get(name, "").strip().lower()


def _our_loop(data: GuardInput) -> bool:
    marker = _header(data, LOOP_HEADER.lower())
    return bool(marker) and base_address(marker) in data.own_addresses


def _from_self(data: GuardInput) -> bool:
    return bool(data.mail.from_addr) and base_address(data.mail.from_addr) in data.own_addresses


def _bounce(data: GuardInput) -> bool:
    mail = data.mail
    names = (mail.from_addr.partition("@")[0].lower(), " ".join(mail.from_name.lower().split()))
    return (
        data.envelope_from == ""
        or _header(data, "return-path") == "<>"
        or any(name.startswith(_DAEMON_NAMES) for name in names)
        or mail.content_type == "multipart/report"
    )


def _machine_sender(data: GuardInput) -> bool:
    return bool(machine.machine_sender(data.mail.from_addr, data.mail.from_name))


def _machine_subject(data: GuardInput) -> bool:
    return bool(machine.machine_subject(data.mail.subject))


def _bounce_body(data: GuardInput) -> bool:
    mail = data.mail
    return bool(machine.bounce_body(mail.from_addr, mail.subject, mail.text))


def _away_notice(data: GuardInput) -> bool:
    return data.staff and bool(machine.away_notice(data.mail.reply_text or data.mail.text))


def _repeated(data: GuardInput) -> bool:
    # A customer may well send the same words twice (two flats, one problem): the loop
    # limit guards their side.
    return data.staff and data.repeated


def _loop_limit(data: GuardInput) -> bool:
    return bool(data.loops.over(data.loop_limit))


def _auto_submitted(data: GuardInput) -> bool:
    value = _header(data, "auto-submitted")
    return (bool(value) and value != "no") or any(
        _header(data, name) for name in ("x-autoreply", "x-autorespond")
    )


def _bulk(data: GuardInput) -> bool:
    return _header(data, "precedence") in ("bulk", "junk", "list") or bool(_header(data, "list-id"))


def _no_sender(data: GuardInput) -> bool:
    return not data.mail.from_addr


def _rate_limited(data: GuardInput) -> bool:
    return data.answers_last_hour >= data.answers_per_hour


GUARD_CHECKS: tuple[GuardCheck, ...] = (
    GuardCheck(
        "our_loop", f"carries our own {LOOP_HEADER} header: it came back", "no_case", _our_loop
    ),
    GuardCheck("from_self", "sent from one of our own function addresses", "no_case", _from_self),
    GuardCheck(
        "bounce", "a delivery report: null sender, MAILER-DAEMON or report", "no_case", _bounce
    ),
    GuardCheck(
        "auto_submitted",
        "Auto-Submitted other than 'no', or an autoresponder",
        "no_answer",
        _auto_submitted,
    ),
    GuardCheck("bulk", "Precedence bulk/junk/list or mailing-list mail", "no_answer", _bulk),
    GuardCheck(
        "machine_sender",
        "sent by a delivery system, list manager, security gateway or noreply address",
        "no_answer",
        _machine_sender,
    ),
    GuardCheck(
        "machine_subject",
        "a subject a bounce or an auto-reply starts with (Undeliverable:, Frånvarande:, ...)",
        "no_answer",
        _machine_subject,
    ),
    GuardCheck(
        "bounce_body",
        "a bounce parser finds failed addresses in the text",
        "no_answer",
        _bounce_body,
    ),
    GuardCheck(
        "away_notice",
        "staff or contractor mail that opens like an out-of-office notice",
        "no_answer",
        _away_notice,
    ),
    GuardCheck(
        "repeated_text",
        "staff or contractor mail with the same text as their last ones within minutes",
        "no_answer",
        _repeated,
    ),
    GuardCheck(
        "loop_limit",
        "more mail on this case or with this address than the rules' loop_limit allows",
        "no_answer",
        _loop_limit,
    ),
    GuardCheck("no_sender", "no sender address to answer", "no_answer", _no_sender, False),
    GuardCheck(
        "rate_limited",
        "too many automatic answers to this sender this hour",
        "no_answer",
        _rate_limited,
        False,
    ),
)


def run_guard(data: GuardInput) -> GuardResult:
    hits = [check for check in GUARD_CHECKS if check.check(data)]
    return GuardResult(
        hits=tuple(check.name for check in hits),
        may_open_case=not any(check.effect == "no_case" for check in hits),
        may_answer=not hits,
        machine=any(check.machine for check in hits),
    )
