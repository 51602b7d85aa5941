"""The IMAP edge: read a mailbox, hand each mail to the pipeline, file it after the commit.

    SEARCH -> FETCH BODY.PEEK[] -> pipeline (commit) -> \\Seen + MOVE to the processed folder

A mail is fetched without being marked seen and filed only after its transaction committed,
so a crash in between re-reads it and the Message-ID dedupe answers "duplicate". Nothing is
deleted: a mail that will never be accepted goes to the failed folder, one that failed for
now stays in the folder for a later pass. imapclient blocks, so every mailbox is read in its
own thread; IDLE where the server has it, polling where it does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imapclient import DELETED, SEEN, IMAPClient, SocketTimeout
from imapclient.exceptions import LoginError

from smartmail.app import App
from smartmail.config import ImapMailbox
from smartmail.errors import TemporaryFailure
from smartmail.inbound.group import GroupCommit
from smartmail.mail.parse import is_mail
from smartmail.pipeline.envelope import Envelope, Outcome

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0  # without IDLE; also how soon a temporary failure is tried again
IDLE_CHECK_SECONDS = 1.0  # how long an idling thread may go without looking at its stop flag
IDLE_RENEW_SECONDS = 10 * 60.0  # servers may end IDLE after 30 minutes (RFC 2177)
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0

# What a dropped connection or a restarting server looks like from imapclient.
CONNECTION_ERRORS = (OSError, imaplib.IMAP4.abort)

Process = Callable[[bytes, Envelope], Outcome]


class Dropped(Exception):
    """The server ended the connection (BYE), e.g. because it is restarting."""


@dataclass(frozen=True)
class Folders:
    processed: str
    failed: str


@dataclass
class Capabilities:
    idle: bool = False
    move: bool = False
    uidplus: bool = False


class MailboxWatcher:
    """Reads one mailbox until told to stop, reconnecting with backoff when it drops."""

    def __init__(
        self,
        mailbox: ImapMailbox,
        process: Process,
        folders: Folders,
        max_size: int,
        on_stored: Callable[[], None] = lambda: None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.mailbox = mailbox
        self.process = process
        self.folders = folders
        self.max_size = max_size
        self.on_stored = on_stored
        self.poll_seconds = poll_seconds
        self.stop = threading.Event()
        self.caps = Capabilities()
        self.uidvalidity: int | None = None
        # uid -> monotonic time before which a temporarily failed mail is not tried again
        self.deferred: dict[int, float] = {}

    # -- connection ------------------------------------------------------------------------

    def run(self) -> None:
        """The thread's body: sessions one after another, 1 s doubling to 60 s between them."""
        delay = BACKOFF_FIRST_SECONDS
        while not self.stop.is_set():
            if self._session():
                delay = BACKOFF_FIRST_SECONDS
            if self.stop.is_set():
                break
            log.info("imap %s: reconnecting in %.0f s", self.mailbox, delay)
            self.stop.wait(delay)
            delay = min(delay * 2, BACKOFF_MAX_SECONDS)
        log.info("imap %s: stopped", self.mailbox)

    def _session(self) -> bool:
        """One connection, until it drops or we stop; True if it got as far as reading mail."""
        client: Any = None
        ready = False
        try:
            client = self._connect()
            self._prepare(client)
            ready = True
            self._serve(client)
            with contextlib.suppress(*CONNECTION_ERRORS, imaplib.IMAP4.error):
                client.logout()
        except Exception as exc:
            self._log_end(exc, ready)
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.shutdown()
        return ready

    def _log_end(self, exc: Exception, ready: bool) -> None:
        if isinstance(exc, (Dropped, *CONNECTION_ERRORS)):
            what = "connection lost" if ready else "cannot connect"
            log.warning("imap %s: %s: %s", self.mailbox, what, str(exc) or repr(exc))
        elif isinstance(exc, LoginError):
            log.error("imap %s: login refused: %s", self.mailbox, exc)
        elif isinstance(exc, imaplib.IMAP4.error):
            log.error("imap %s: the server refused: %s", self.mailbox, exc)
        else:
            log.exception("imap %s: unexpected error", self.mailbox)

    def _connect(self) -> Any:
        box = self.mailbox
        return IMAPClient(
            box.host,
            port=box.port,
            ssl=box.tls,
            ssl_context=ssl.create_default_context() if box.tls else None,
            timeout=SocketTimeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
        )

    def _prepare(self, client: Any) -> None:
        client.login(self.mailbox.username, self.mailbox.password)
        self.caps = Capabilities(
            idle=bool(client.has_capability("IDLE")),
            move=bool(client.has_capability("MOVE")),
            uidplus=bool(client.has_capability("UIDPLUS")),
        )
        for folder in (self.folders.processed, self.folders.failed):
            _ensure_folder(client, folder)
        self._select(client)
        how = "IDLE" if self.caps.idle else f"polling every {self.poll_seconds:.0f} s"
        log.info("imap %s: connected (%s)", self.mailbox, how)
        if not (self.caps.move or self.caps.uidplus):
            log.warning(
                "imap %s: no MOVE or UIDPLUS: filed mail is copied and stays flagged \\Deleted"
                " (a plain EXPUNGE could remove other mail)",
                self.mailbox,
            )

    def _select(self, client: Any) -> None:
        info = client.select_folder(self.mailbox.folder)
        validity = int(info.get(b"UIDVALIDITY", 0))
        if self.uidvalidity is not None and validity != self.uidvalidity:
            # Every UID we remember is void; the Message-ID dedupe makes the re-scan safe.
            log.warning(
                "imap %s: UIDVALIDITY changed from %s to %s; re-scanning the folder",
                self.mailbox,
                self.uidvalidity,
                validity,
            )
            self.deferred.clear()
        self.uidvalidity = validity

    # -- waiting ---------------------------------------------------------------------------

    def _serve(self, client: Any) -> None:
        idled = False
        while not self.stop.is_set():
            self._drain(client)
            wait = self.poll_seconds if self.deferred or not self.caps.idle else IDLE_RENEW_SECONDS
            if not self.caps.idle:
                self.stop.wait(wait)
                continue
            if not idled:
                log.info("imap %s: idling", self.mailbox)
                idled = True
            self._idle(client, wait)

    def _idle(self, client: Any, seconds: float) -> None:
        """IDLE until the server announces mail, `seconds` pass, or we are told to stop."""
        client.idle()
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and time.monotonic() < deadline:
            timeout = min(IDLE_CHECK_SECONDS, deadline - time.monotonic())
            started = time.monotonic()
            responses = client.idle_check(timeout=timeout)
            if any(r[:1] == (b"BYE",) for r in responses):
                raise Dropped("the server said BYE")
            if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
                break
            if not responses and time.monotonic() - started < timeout / 2:
                # Woken with nothing to read: a closed socket or a partial line. Ending IDLE
                # tells which (idle_done raises on a closed one).
                break
        client.idle_done()

    def _drain(self, client: Any) -> None:
        """Passes until one finds nothing new and no mail was announced meanwhile."""
        while not self.stop.is_set():
            _take_exists(client)
            if not self._pass(client) and not _take_exists(client):
                return

    # -- reading ---------------------------------------------------------------------------

    def _pass(self, client: Any) -> int:
        """Read what is in the folder, oldest first; returns how many mails were filed."""
        uids = sorted(client.search(["NOT", "DELETED"]))
        now = time.monotonic()
        present = set(uids)
        self.deferred = {u: t for u, t in self.deferred.items() if u in present}
        due = [uid for uid in uids if self.deferred.get(uid, 0.0) <= now]
        if not due:
            return 0
        sizes = client.fetch(due, ["RFC822.SIZE"])
        filed = 0
        for uid in due:
            if self.stop.is_set():
                break
            if uid in sizes:  # else someone else took it away meanwhile
                filed += self._one(client, uid, int(sizes[uid].get(b"RFC822.SIZE", 0)))
        return filed

    def _one(self, client: Any, uid: int, size: int) -> int:
        """Process one mail and file it; 1 if it left the folder, 0 if it stays."""
        if size > self.max_size:
            return self._fail(client, uid, f"{size} bytes, above SMARTMAIL_MAX_MESSAGE_SIZE")
        fetched = client.fetch([uid], ["BODY.PEEK[]"])
        if uid not in fetched:
            return 0
        raw = fetched[uid].get(b"BODY[]")
        if not raw or not is_mail(bytes(raw)):
            return self._fail(client, uid, "empty mail, nothing to store")
        address = self.mailbox.address
        try:
            outcome = self.process(
                bytes(raw), Envelope("imap", None, (address,) if address else ())
            )
        except TemporaryFailure as exc:
            log.warning("imap %s: uid %s stays for a later pass: %s", self.mailbox, uid, exc)
            self.deferred[uid] = time.monotonic() + self.poll_seconds
            return 0
        except Exception as exc:
            log.exception("imap %s: uid %s could not be processed", self.mailbox, uid)
            return self._fail(client, uid, f"{type(exc).__name__}: {exc}")
        number = f" case {outcome.case_number}" if outcome.case_number else ""
        log.info("imap %s: uid %s: %s%s", self.mailbox, uid, outcome.kind, number)
        self.on_stored()
        # Stored (a quarantined mail too): only now may it leave the folder.
        self._file(client, uid, self.folders.processed, seen=True)
        return 1

    def _fail(self, client: Any, uid: int, reason: str) -> int:
        log.error("imap %s: uid %s moved to %s: %s", self.mailbox, uid, self.folders.failed, reason)
        self._file(client, uid, self.folders.failed, seen=False)
        return 1

    def _file(self, client: Any, uid: int, folder: str, seen: bool) -> None:
        """Move one mail; without MOVE, copy it and expunge exactly that UID."""
        if seen:
            client.add_flags([uid], [SEEN], silent=True)
        if self.caps.move:
            client.move([uid], folder)
            return
        client.copy([uid], folder)
        client.add_flags([uid], [DELETED], silent=True)
        if self.caps.uidplus:
            client.uid_expunge([uid])


def _ensure_folder(client: Any, folder: str) -> None:
    if client.folder_exists(folder):
        return
    try:
        client.create_folder(folder)
    except imaplib.IMAP4.error:
        if not client.folder_exists(folder):  # else another reader created it just now
            raise
    with contextlib.suppress(imaplib.IMAP4.error):
        client.subscribe_folder(folder)


def _take_exists(client: Any) -> bool:
    """Did the server announce new mail alongside the answer to an earlier command?

    Such an EXISTS is not repeated when IDLE starts; imaplib keeps it among its untagged
    responses, which imapclient does not otherwise expose. Reading it closes the gap between
    a pass's SEARCH and the next IDLE; emptying them all keeps the EXPUNGE lines every MOVE
    leaves there from piling up over a long session.
    """
    untagged = getattr(getattr(client, "_imap", None), "untagged_responses", None)
    if not isinstance(untagged, dict):
        return False
    announced = "EXISTS" in untagged
    untagged.clear()
    return announced


# -- the daemon's side ---------------------------------------------------------------------


def start_imap(
    app: App, writer: GroupCommit, stopping: asyncio.Event, on_stored: Callable[[], None]
) -> list[asyncio.Task[None]]:
    """One task per configured mailbox; each ends once `stopping` is set and its thread ended."""
    loop = asyncio.get_running_loop()

    def process(raw: bytes, envelope: Envelope) -> Outcome:
        # Through the daemon's writer: on SQLite, one writer queue for every intake.
        try:
            future = asyncio.run_coroutine_threadsafe(writer.process(raw, envelope), loop)
        except RuntimeError as exc:  # shutting down: the mail stays for the next start
            raise TemporaryFailure(str(exc)) from exc
        return future.result()

    def stored() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(on_stored)

    folders = Folders(app.settings.imap_processed, app.settings.imap_failed)
    watchers = [
        MailboxWatcher(mailbox, process, folders, app.settings.max_message_size, stored)
        for mailbox in app.settings.imap
    ]
    return [asyncio.create_task(_watch(watcher, stopping)) for watcher in watchers]


async def _watch(watcher: MailboxWatcher, stopping: asyncio.Event) -> None:
    thread = threading.Thread(target=watcher.run, name=f"imap {watcher.mailbox}", daemon=True)
    thread.start()
    await stopping.wait()
    watcher.stop.set()
    await asyncio.to_thread(thread.join)
