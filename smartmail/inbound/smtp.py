"""The SMTP and LMTP edge: protocol replies here, the work in the pipeline.

250 is said only after the pipeline committed the mail and everything it causes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from smartmail.errors import PermanentFailure, TemporaryFailure
from smartmail.inbound.group import GroupCommit
from smartmail.pipeline import Envelope, Pipeline

log = logging.getLogger(__name__)


class MailHandler:
    """aiosmtpd handler: refuses strangers at RCPT, runs the pipeline at DATA."""

    def __init__(
        self,
        pipeline: Pipeline,
        writer: GroupCommit,
        channel: str = "smtp",
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.writer = writer
        self.channel = channel
        self.on_stored = on_stored or (lambda: None)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.pipeline.accepts(address):
            # Not an open relay: only our own function addresses are delivered here.
            return f"550 5.1.1 <{address}>: no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        raw = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        inbound = Envelope(
            channel=self.channel,
            mail_from="" if mail_from == "<>" else mail_from,
            rcpt_to=tuple(envelope.rcpt_tos),
        )
        try:
            outcome = await self.writer.process(raw, inbound)
        except TemporaryFailure as exc:
            log.warning("451 for mail from %s: %s", mail_from, exc)
            status = "451 4.3.0 Temporary failure, please try again later"
        except PermanentFailure as exc:
            status = f"554 5.6.0 {exc}"
        else:
            self.on_stored()
            number = f" case {outcome.case_number}" if outcome.case_number else ""
            status = f"250 2.0.0 {outcome.kind}{number}"
        if isinstance(server, LMTP):
            # LMTP answers DATA once per recipient.
            return "\r\n".join([status] * len(envelope.rcpt_tos))
        return status


def make_server_factory(
    handler: MailHandler, *, lmtp: bool, hostname: str, max_size: int
) -> Callable[[], Any]:
    protocol = LMTP if lmtp else SMTP

    def factory() -> SMTP:
        return protocol(
            handler,
            hostname=hostname,
            data_size_limit=max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="smartmail",
        )

    return factory
