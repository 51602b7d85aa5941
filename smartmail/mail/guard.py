"""What must never get an answer (or never open a case). Pure: decisions from plain data.

Checks run in the order of GUARD_CHECKS; every hit is recorded on the stored message so that
`case show` can say why a mail was not answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from smartmail.mail.parse import ParsedMail
from smartmail.mail.tokens import base_address

LOOP_HEADER = "X-Smartmail-Loop"
Effect = Literal["no_case", "no_answer"]
_DAEMON_NAMES = ("mailer-daemon", "postmaster", "mail delivery subsystem", "mail delivery system")


@dataclass(frozen=True)
class GuardInput:
    mail: ParsedMail
    envelope_from: str | None  # "" is the null return path; None when the channel has no envelope
    own_addresses: frozenset[str]  # our function addresses, lower case
    answers_last_hour: int = 0  # automatic answers we sent to this sender in the last hour
    answers_per_hour: int = 10


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
    sender = (mail.from_addr.partition("@")[0] or mail.from_name).lower()
    return (
        data.envelope_from == ""
        or _header(data, "return-path") == "<>"
        or sender.startswith(_DAEMON_NAMES)
        or mail.content_type == "multipart/report"
    )


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
