"""The daemon's side of `smartmail ingest`: LMTP on `<data dir>/ingest.sock`.

The mail goes through the same group commit as SMTP and LMTP, on the `ingest` channel, and
is answered after its commit, so exit 0 still means stored. The client (inbound/mailgate.py)
has already been given its envelope by the MTA: every recipient is taken, as `ingest` takes
it in-process, and the reply carries what `ingest` prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

from smartmail.inbound.mailgate import NO_RECIPIENT, NO_SENDER, SOCKET_NAME
from smartmail.inbound.smtp import MailHandler, make_server_factory
from smartmail.pipeline.envelope import Envelope, Outcome

log = logging.getLogger(__name__)


class IngestHandler(MailHandler):
    """The socket's handler: the envelope as `ingest` was given it, the answer as it prints."""

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        envelope.rcpt_tos.append(address)  # the MTA chose it (a pipe per address it serves)
        return "250 2.1.5 OK"

    def inbound_envelope(self, envelope: SmtpEnvelope) -> Envelope:
        mail_from = envelope.mail_from or ""
        return Envelope(
            channel="ingest",
            mail_from=None if mail_from == NO_SENDER else "" if mail_from == "<>" else mail_from,
            rcpt_to=tuple(r for r in envelope.rcpt_tos if r != NO_RECIPIENT),
        )

    def stored_text(self, outcome: Outcome) -> str:
        number = f" case {outcome.case_number}" if outcome.case_number else ""
        text = f"{outcome.kind}{number} {outcome.message_id} {outcome.detail}".rstrip()
        # The Message-ID is the sender's: one reply line, whatever it holds.
        return "".join(c if c.isprintable() else " " for c in text)


class IngestSocket:
    """The listening socket; removed on close unless another daemon has taken its place."""

    def __init__(self, server: asyncio.Server, path: Path, inode: int) -> None:
        self.server = server
        self.path = path
        self.inode = inode

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()


async def listen_for_ingest(
    handler: IngestHandler, data_dir: Path, hostname: str, max_size: int
) -> IngestSocket | None:
    """Serve `ingest` on the data dir's socket; without it `ingest` works in-process."""
    path = data_dir / SOCKET_NAME
    factory = make_server_factory(handler, lmtp=True, hostname=hostname, max_size=max_size)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a crashed daemon's, or one on the same data dir: the newest serves
    try:
        # Who may connect is who may write it: the umask's choice, as for the database.
        server = await asyncio.get_running_loop().create_unix_server(factory, str(path))
    except OSError as exc:  # e.g. a path over the 107 bytes a socket's name may have
        log.warning("no socket for `smartmail ingest` at %s (%s): it works in-process", path, exc)
        return None
    log.info("ingest socket at %s", path)
    return IngestSocket(server, path, path.stat().st_ino)
