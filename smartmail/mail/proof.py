"""Does a mail prove who sent it? Pure: the From header alone proves nothing.

A sender is proven when the mail answers something we sent to that very person: one of
the reply addresses we put in Reply-To is signed for one case (or for none, number 0)
and one person. When the rules name a trusted MTA, its Authentication-Results must also
show DKIM or SPF passing for the sender's domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smartmail.mail.parse import ParsedMail
from smartmail.mail.tokens import parse_reply_address

_PROPERTY = re.compile(r"\b(header\.d|header\.i|smtp\.mailfrom|smtp\.from)\s*=\s*(\S+)", re.I)
_RESULT = re.compile(r"\b(dkim|spf)\s*=\s*pass\b([^;]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Proof:
    ok: bool
    reason: str
    case_number: int | None = None  # the case the reply address was made for; 0 = none


def prove_sender(
    mail: ParsedMail,
    recipients: tuple[str, ...],
    own_addresses: frozenset[str],
    secret: bytes,
    trusted_authserv_id: str | None = None,
) -> Proof:
    if not mail.from_addr:
        return Proof(False, "the mail has no sender address")
    proof = _reply_address_proof(mail, recipients, own_addresses, secret)
    if not proof.ok or trusted_authserv_id is None:
        return proof
    if authentication_passes(
        mail.headers.get("authentication-results", ""), trusted_authserv_id, mail.from_addr
    ):
        return proof
    return Proof(False, f"{trusted_authserv_id} did not see DKIM or SPF pass for the sender")


def _reply_address_proof(
    mail: ParsedMail, recipients: tuple[str, ...], own: frozenset[str], secret: bytes
) -> Proof:
    for address in (*recipients, *mail.to, *mail.cc):
        reply = parse_reply_address(address)
        if reply is None or reply.base not in own:
            continue
        if reply.proves(mail.from_addr, secret):
            return Proof(True, "reply address", reply.number)
        return Proof(False, "the reply address was not made for this sender")
    return Proof(False, "not an answer to a mail we sent you (no reply address of ours)")


def authentication_passes(header: str, authserv_id: str, sender: str) -> bool:
    """True when `header` comes from `authserv_id` and shows dkim/spf=pass for the domain."""
    if not header:
        return False
    server, _, results = header.partition(";")
    if server.strip().split()[0:1] != [authserv_id]:
        return False
    domain = sender.rpartition("@")[2].lower()
    for match in _RESULT.finditer(results):
        for prop in _PROPERTY.finditer(match.group(2)):
            value = prop.group(2).lower().strip('"')
            if value == domain or value.endswith(f"@{domain}"):
                return True
    return False
