"""The SMTP and LMTP edge: protocol replies here, the work in the pipeline.

250 is said only after the pipeline committed the mail and everything it causes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from smartmail.errors import PermanentFailure, TemporaryFailure
from smartmail.pipeline.envelope import Envelope

# Only named here: `smartmail run` listens with this module before the pipeline is loaded
# (smartmail/starting.py), so it loads nothing of the pipeline itself.
if TYPE_CHECKING:
    from smartmail.inbound.group import GroupCommit
    from smartmail.pipeline.envelope import Outcome
    from smartmail.pipeline.process import Pipeline

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
        from smartmail.mail.parse import is_mail  # loaded with the pipeline, before this runs

        if not is_mail(raw):
            # No header, no body: nothing to store or answer (as `ingest` and IMAP refuse it).
            return _per_recipient(server, envelope, "554 5.6.0 Empty mail, nothing to store")
        mail_from = envelope.mail_from or ""
        inbound = self.inbound_envelope(envelope)
        try:
            outcome = await self.writer.process(raw, inbound)
        except TemporaryFailure as exc:
            log.warning("451 for mail from %s: %s", mail_from, exc)
            status = "451 4.3.0 Temporary failure, please try again later"
        except PermanentFailure as exc:
            status = f"554 5.6.0 {exc}"
        else:
            self.on_stored()
            status = f"250 2.0.0 {self.stored_text(outcome)}"
        return _per_recipient(server, envelope, status)

    def inbound_envelope(self, envelope: SmtpEnvelope) -> Envelope:
        """The pipeline's envelope for what the client said in MAIL and RCPT."""
        mail_from = envelope.mail_from or ""
        return Envelope(
            channel=self.channel,
            mail_from="" if mail_from == "<>" else mail_from,
            rcpt_to=tuple(envelope.rcpt_tos),
        )

    def stored_text(self, outcome: Outcome) -> str:
        """What follows `250 2.0.0` once the mail is stored."""
        number = f" case {outcome.case_number}" if outcome.case_number else ""
        return f"{outcome.kind}{number}"


def _per_recipient(server: SMTP, envelope: SmtpEnvelope, status: str) -> str:
    if isinstance(server, LMTP):
        # LMTP answers DATA once per recipient.
        return "\r\n".join([status] * len(envelope.rcpt_tos))
    return status


END_OF_DATA = b".\r\n"  # at the start of a line

# RFC 5322 dot-atoms of ASCII atext in angle brackets, then blanks (which aiosmtpd's reading
# takes with the address), then the parameters, which must not start a comment.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_PLAIN_PATH = re.compile(rf"<({_DOT_ATOM})@({_DOT_ATOM})>[ \t]*+((?!\()[^\r\n]*)", re.ASCII)


class BulkDataSMTP(SMTP):
    """aiosmtpd's SMTP with DATA read in large pieces instead of line by line.

    aiosmtpd 1.4 reads DATA one line at a time in Python, which holds the event loop
    for about 50 ms per megabyte: a tenant's 5 MB photo (6.8 MB as sent) stalled every
    other session for a third of a second. Here the stream is searched for the end
    marker in C (about 9 ms per megabyte), and the checks aiosmtpd makes per line (size,
    line length, dot-stuffing) are made on the whole. Replies, limits and what reaches
    the handler are aiosmtpd's own: the socket tests in tests/test_smtp_data.py pass
    against both.
    """

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            data, size = await read_data(self._reader, self.data_size_limit)
        except asyncio.CancelledError:  # the client went away mid-DATA
            self._writer.close()
            raise
        problem = self._data_problem(data, size)
        if problem:
            # LMTP answers DATA once per recipient (RFC 2033 4.2), a refusal too.
            replies = len(self.envelope.rcpt_tos) if isinstance(self, LMTP) else 1
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push("\r\n".join([problem] * replies))
            return
        # RFC 5321 4.5.2: a line that starts with a dot was sent with one more.
        content = data[1:] if data.startswith(b".") else data
        content = content.replace(b"\r\n.", b"\r\n")
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """The address in MAIL or RCPT and what follows it, as aiosmtpd reads them.

        aiosmtpd reads every address with the email package's header parser and makes a
        class each time: a fifth of the listener's time per mail. A plain `<local@domain>`
        of letters, digits and the other atom characters reads the same by a pattern;
        anything else (quotes, comments, brackets, no angle brackets, 8-bit) goes to
        aiosmtpd's own reading. What that reading raises on (a lone `<`, `<\\@[>`) is a syntax
        error too, not a 500 with a traceback in the log for each line a client sends.
        """
        plain = _PLAIN_PATH.fullmatch(arg)
        if plain is None:
            try:
                return super()._getaddr(arg)
            except Exception:  # the header parser's on hostile paths: IndexError on `<`,
                return None, None  # AttributeError on `<\@[>`; none is an address
        local, domain, rest = plain.groups()
        if self.local_part_limit and len(local) > self.local_part_limit:
            return None, None
        return f"{local}@{domain}", rest

    def _data_problem(self, data: bytes, size: int) -> str | None:
        if self.data_size_limit and size > self.data_size_limit:
            return "552 Error: Too much mail data"
        # aiosmtpd's limit counts the CRLF; the last line ends with one too.
        if longest_line(data) + 2 > self.line_length_limit:
            return "500 Line too long (see RFC5321 4.5.3.1.6)"
        return None


def longest_line(data: bytes, piece: int = 1 << 20) -> int:
    """The length of the longest CRLF-ended line, split a piece at a time: a list of every
    line of a 20 MB mail would take more memory than the mail."""
    longest, start = 0, 0
    while start < len(data):
        end = data.find(b"\r\n", start + piece)
        end = len(data) if end < 0 else end
        longest = max(longest, *map(len, data[start:end].split(b"\r\n")))
        start = end + 2
    return longest


async def read_data(reader: asyncio.StreamReader, limit: int | None) -> tuple[bytes, int]:
    """DATA up to the lone dot (left out) and its size in bytes; empty if over `limit`.

    The reader stops at each ".\r\n" (its own limit, one line, bounds what it holds
    without finding one), so nothing after the end, such as a pipelined QUIT, is taken."""
    pieces: list[bytes] = []
    size = 0
    before = b"\r\n"  # the two bytes before the piece: DATA starts at a line start
    while True:
        try:
            piece = await reader.readuntil(END_OF_DATA)
        except asyncio.LimitOverrunError as exc:
            piece = await reader.readexactly(exc.consumed)
        size += len(piece)
        tail = before + piece[-5:]  # how the stream read so far ends
        ended = piece.endswith(END_OF_DATA) and tail[-5:-3] == b"\r\n"
        if ended:
            piece = piece[: -len(END_OF_DATA)]
            size -= len(END_OF_DATA)
        if limit and size > limit:
            pieces.clear()  # too large: keep draining, hold nothing
        else:
            pieces.append(piece)
        if ended:
            return b"".join(pieces), size
        before = tail[-2:]


class BulkDataLMTP(BulkDataSMTP, LMTP):
    """LMTP (it answers DATA once per recipient, in the handler) with the same DATA reader."""


def make_server_factory(
    handler: object, *, lmtp: bool, hostname: str | Callable[[], str], max_size: int
) -> Callable[[], Any]:
    """A protocol per connection; `hostname` may be a function, asked at each connection
    (the name in the greeting is known only once the rules are loaded)."""
    protocol = BulkDataLMTP if lmtp else BulkDataSMTP

    def factory() -> SMTP:
        return protocol(
            handler,
            hostname=hostname() if callable(hostname) else hostname,
            data_size_limit=max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="smartmail",
        )

    return factory
