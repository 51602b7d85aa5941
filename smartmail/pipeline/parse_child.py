"""Parsing mail in a child process, beside the writer that stores the mail before it.

The listeners, the writer and the sender share one interpreter lock, and parsing was more
than a quarter of the writer's hold on it per mail: with 8 clients sending at once, mail
waited for the writer. The daemon starts a child process that parses each mail as it
arrives, on another core, while the writer stores the mails that came before; the writer
takes the `ParsedMail` if it is ready when the mail's turn comes (`group.py`).

It is the same `parse`, only elsewhere, and where the child cannot help the mail is
parsed in the writer as before:

- mail from `mime_scan.THRESHOLD` up: its large attachments are spooled to files while it
  is read, and its bytes are not copied to another process (the memory budget);
- mail whose turn comes before the child's answer (the first of a quiet moment);
- when the child is not running (it could not start, or died: it is started again on the
  next mail, at most once every `RESTART_AFTER`), and when its parse raised: the writer
  parses it again and quarantines the mail with the error, as for any mail.

One mail is in the pipe at a time (a lock), asked by a thread of its own (`ask`) that waits
for the answer without holding the interpreter lock. A child that has not answered within
`PARSE_WAIT` (a mail that sends the parser into a loop) is killed and replaced: the writer
has parsed that mail itself long before. The child ignores SIGINT and SIGTERM, which stop
the daemon (and reach the whole process group or service), and ends when the daemon
closes the pipe or dies: it reads end-of-file then.
"""

from __future__ import annotations

import logging
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

# The child ignores the daemon's signals first, then loads the parser: nothing of the mail
# package is loaded with this module.
if TYPE_CHECKING:
    from smartmail.mail.parse import ParsedMail

log = logging.getLogger(__name__)

RESTART_AFTER = 60.0  # seconds: a child that keeps dying does not cost a start per mail
START_WAIT = 30.0  # seconds for the child to load the parser and say it is ready
STOP_WAIT = 5.0  # seconds the child gets to end after the pipe closes
PARSE_WAIT = 10.0  # seconds for one mail: mail under 256 KB takes milliseconds
READY = b"ready"
CHILD = [sys.executable, "-m", "smartmail.pipeline.parse_child"]  # + the socket's fd
# Parsed once before the child says it is ready: an HTML part and an attachment, in a
# charset that is not declared, as mail is.
_SAMPLE = (
    b"From: =?utf-8?q?=C3=85sa?= <asa@kund.example>\r\nTo: desk@bostad.example\r\n"
    b"Subject: =?iso-8859-1?q?Fl=E4kten?=\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
    b'Content-Type: multipart/alternative; boundary="a"\r\n\r\n--a\r\n'
    b"Content-Type: text/plain\r\n\r\nHej! Fl\xe4kten l\xe5ter.\r\n\r\n> citat\r\n--a\r\n"
    b"Content-Type: text/html\r\n\r\n<p>Hej! Fl\xe4kten l\xe5ter.</p>\r\n--a--\r\n--b\r\n"
    b"Content-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"iVBORw0KGgo=\r\n--b--\r\n"
)


class ParseChild:
    """A child process that parses small mail; `parse` returns None for "parse it here"."""

    def __init__(self, largest: int | None = None) -> None:
        from smartmail.mail.mime_scan import THRESHOLD

        self.largest = THRESHOLD - 1 if largest is None else largest
        self.lock = threading.Lock()  # one mail in the pipe at a time
        # The thread that waits for the child's answers, without the interpreter lock.
        self.asker = ThreadPoolExecutor(1, "parse")
        self.process: subprocess.Popen[bytes] | None = None
        self.pipe: Connection | None = None
        self.next_start = 0.0  # monotonic time from which a start may be tried
        self.stopped = False

    def start(self) -> bool:
        """Start the child (a fresh interpreter that loads only the parser) and wait until
        it is ready; False, and logged, when it could not start."""
        with self.lock:
            return self._start()

    def ask(self, raw: bytes, envelope_from: str | None) -> Future[ParsedMail | None]:
        """The mail's parse, in the asking thread; cancel the future to withdraw it. Once
        stopped, the answer is None at once."""
        try:
            return self.asker.submit(self.parse, raw, envelope_from)
        except RuntimeError:  # stopped: nothing is asked any more
            done: Future[ParsedMail | None] = Future()
            done.set_result(None)
            return done

    def parse(self, raw: bytes, envelope_from: str | None) -> ParsedMail | None:
        """The mail parsed by the child, or None: then the caller parses it itself."""
        if len(raw) > self.largest:
            return None
        with self.lock:
            if self.pipe is None and not self._start():
                return None
            assert self.pipe is not None
            try:
                self.pipe.send_bytes(pickle.dumps((raw, envelope_from), pickle.HIGHEST_PROTOCOL))
                if not self.pipe.poll(PARSE_WAIT):
                    log.warning(
                        "the parsing process took over %.0f s for a mail: replaced", PARSE_WAIT
                    )
                    self._end(kill=True)  # started again as a dead one is
                    return None
                answer = self.pipe.recv_bytes()
            except (EOFError, OSError):
                log.warning("the parsing process ended; mail is parsed in the writer meanwhile")
                self._end()
                return None
        parsed: ParsedMail | None = pickle.loads(answer)  # noqa: S301 (our own child's bytes)
        return parsed

    def stop(self) -> None:
        """End the child, for good: what was asked and not begun is withdrawn."""
        self.stopped = True
        self.asker.shutdown(wait=True, cancel_futures=True)  # at most PARSE_WAIT
        with self.lock:
            self._end()

    def _start(self) -> bool:
        """With the lock held: a start, unless stopped or tried less than RESTART_AFTER ago."""
        if self.stopped or time.monotonic() < self.next_start:
            return False
        self.next_start = time.monotonic() + RESTART_AFTER
        # A fresh interpreter (no copy of the daemon's threads), on one end of a socket pair;
        # Connection frames each message on it.
        ends = socket.socketpair()
        theirs = ends[1].fileno()
        try:
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
                [*CHILD, str(theirs)], pass_fds=[theirs], stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            log.warning("could not start the parsing process (%s): parsing in the writer", exc)
            for end in ends:
                end.close()
            return False
        ends[1].close()  # the child's end: ours reads end-of-file once the child is gone
        ours = Connection(ends[0].detach())
        try:
            if not ours.poll(START_WAIT) or ours.recv_bytes() != READY:
                raise OSError(f"no answer within {START_WAIT:.0f} s")
        except (OSError, EOFError) as exc:
            log.warning("could not start the parsing process (%s): parsing in the writer", exc)
            _end(ours, process)
            return False
        self.process, self.pipe = process, ours
        log.info("parsing mail in a child process (pid %s)", process.pid)
        return True

    def _end(self, kill: bool = False) -> None:
        pipe, process = self.pipe, self.process
        self.pipe = self.process = None
        if pipe is not None and process is not None:
            _end(pipe, process, kill)


def _end(pipe: Connection, process: subprocess.Popen[bytes], kill: bool = False) -> None:
    """Close the pipe, which ends the child; kill it if it has not ended soon after (or at
    once, with `kill`: it is busy and would not read the end)."""
    pipe.close()
    if kill:
        process.kill()
    try:
        process.wait(STOP_WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(pipe: Connection) -> None:
    """The child: parse each mail the pipe brings, answer with the ParsedMail pickled
    (None when `parse` raised), until the pipe closes."""
    for stop in (signal.SIGINT, signal.SIGTERM):  # the daemon stops, then closes the pipe
        signal.signal(stop, signal.SIG_IGN)
    from smartmail.mail.parse import parse

    parse(_SAMPLE)  # what the parser loads at its first use is loaded before the first mail
    pipe.send_bytes(READY)
    while True:
        try:
            raw, envelope_from = pickle.loads(pipe.recv_bytes())  # noqa: S301 (the daemon's)
        except (EOFError, OSError):
            return
        try:
            parsed: ParsedMail | None = parse(raw, envelope_from)
        except Exception:  # the writer parses it again and quarantines it with the error
            parsed = None
        pipe.send_bytes(pickle.dumps(parsed, pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
