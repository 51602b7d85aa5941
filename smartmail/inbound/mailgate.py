"""`smartmail ingest`'s quick way in: hand the raw mail to the running daemon over LMTP.

An MTA's pipe starts one process per mail, and importing the pipeline costs about a second
of CPU. So `ingest` first offers the mail to the daemon on the Unix socket `ingest.sock` in
the data dir (inbound/ingest_socket.py serves it), and only when no daemon answers does it
process the mail itself. This module is the client's side and imports the standard library
only: it runs before anything else is loaded.

The envelope crosses as it is: MAIL FROM and one RCPT per recipient. `ingest` may know no
sender (None, unlike the null return path "") and no recipient, which LMTP cannot say; the
two addresses below stand for them (`.invalid` is reserved: no mail ever comes from or goes
to it). What the socket cannot carry byte for byte (a bare CR, a line over SMTP's 998
characters, an address with spaces, quotes or angle brackets) is left to the in-process
path, as is everything the daemon refuses before the mail reaches the pipeline: then
nothing was stored, and `ingest` behaves exactly as without a daemon.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path
from typing import BinaryIO

SOCKET_NAME = "ingest.sock"
NO_SENDER = "no-sender@ingest.invalid"
NO_RECIPIENT = "no-recipient@ingest.invalid"
MAX_LINE = 998  # RFC 5321 4.5.3.1.6, without the CRLF
TIMEOUT_SECONDS = 300.0  # the daemon answers after its commit; a burst may queue behind it

# What the listener reads back as the same address: no space, quote, bracket or control.
_PLAIN_ADDRESS = re.compile(r'[^\s<>()\[\]\\,;:"\x00-\x1f\x7f]+')

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75


# The daemon's answer to DATA: the exit code it means, and its text for stdout or stderr.
# (A plain tuple: `dataclasses` alone would cost this process a tenth of its start.)
Answer = tuple[int, str]


class NotHandedOver(Exception):
    """Nothing reached the pipeline: the mail is the in-process path's to store."""


def socket_path(environ: dict[str, str] | None = None, cwd: Path | None = None) -> Path:
    """`<data dir>/ingest.sock`, the data dir found as the settings find it (the environment,
    else `.env` in the working directory, else ./data)."""
    env = os.environ if environ is None else environ
    base = cwd or Path.cwd()
    data_dir = env.get("SMARTMAIL_DATA_DIR") or _dotenv_value(base / ".env", "SMARTMAIL_DATA_DIR")
    return (base / (data_dir or "data")) / SOCKET_NAME


def _dotenv_value(path: Path, key: str) -> str | None:
    """One plain `KEY=value` from a .env file (quotes, `export` and comments as dotenv reads
    them); a value read wrongly names no socket, and `ingest` then works in-process."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    found = None
    for line in lines:
        name, sep, value = line.strip().removeprefix("export ").partition("=")
        if not sep or name.strip() != key:
            continue
        value = value.strip()
        quote = value[:1]
        if quote in ("'", '"') and quote in value[1:]:
            value = value[1 : value.index(quote, 1)]
        else:
            value = value.split(" #", 1)[0].strip()
        found = value  # the last one wins, as in dotenv
    return found


def wire_body(raw: bytes) -> bytes:
    """The mail as DATA: CRLF line ends, dot-stuffed, ended by the lone dot."""
    if b"\r" in raw.replace(b"\r\n", b""):
        raise NotHandedOver("a bare CR cannot cross LMTP unchanged")
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if any(len(line) > MAX_LINE for line in lines):
        raise NotHandedOver("a line over 998 characters")
    stuffed = [b"." + line if line.startswith(b".") else line for line in lines]
    return b"".join(line + b"\r\n" for line in stuffed) + b".\r\n"


def envelope_lines(sender: str | None, recipients: list[str]) -> list[str]:
    """MAIL FROM and the RCPT lines for the envelope `ingest` was given."""
    addresses = [a for a in (sender, *recipients) if a]
    if any(not _plain(a) for a in addresses) or "" in recipients:
        raise NotHandedOver("an address the listener would read differently")
    utf8 = " SMTPUTF8" if any(not a.isascii() for a in addresses) else ""
    mail_from = NO_SENDER if sender is None else sender
    return [f"MAIL FROM:<{mail_from}>{utf8}"] + [
        f"RCPT TO:<{r}>" for r in (recipients or [NO_RECIPIENT])
    ]


def _plain(address: str) -> bool:
    """An address the listener reads back as the same: printable UTF-8, one word."""
    if not address.isprintable() or _PLAIN_ADDRESS.fullmatch(address) is None:
        return False
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate: bytes of a command line that were not UTF-8
        return False
    return True


def hand_over(raw: bytes, sender: str | None, recipients: list[str], path: Path) -> Answer:
    """Give the mail to the daemon listening on `path`; NotHandedOver if none took it."""
    body = wire_body(raw)
    commands = envelope_lines(sender, recipients)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(TIMEOUT_SECONDS)
        conn.connect(str(path))
    except OSError as exc:  # no daemon (no socket, a stale one, a path too long)
        conn.close()
        raise NotHandedOver(str(exc)) from exc
    with conn, conn.makefile("rb") as replies:
        return _session(conn, replies, commands, body, len(commands) - 1)


def _session(
    conn: socket.socket, replies: BinaryIO, commands: list[str], body: bytes, rcpts: int
) -> Answer:
    try:
        _expect(replies, "2")  # the greeting
        for command in ["LHLO localhost", *commands, "DATA"]:
            conn.sendall(command.encode("utf-8") + b"\r\n")
            _expect(replies, "3" if command == "DATA" else "2")
        conn.sendall(body)
    except (OSError, _Refused) as exc:  # nothing was stored: the in-process path decides
        raise NotHandedOver(str(exc)) from exc
    try:
        answers = [_reply(replies) for _ in range(rcpts)]
    except OSError as exc:  # sent, no answer: stored or not, a resend is recognised
        return (EX_TEMPFAIL, f"the daemon did not answer, try again: {exc}")
    return _exit_code(answers)


class _Refused(Exception):
    pass


def _reply(replies: BinaryIO) -> tuple[str, str]:
    """One (possibly multiline) reply: its code and its last line's text."""
    while True:
        line = replies.readline(4096).decode("utf-8", "replace")
        if len(line) < 4 or not line[:3].isdigit():
            raise ConnectionError(f"no reply from the daemon ({line.strip()!r})")
        if line[3] != "-":
            return line[:3], line[4:].strip()


def _expect(replies: BinaryIO, first_digit: str) -> None:
    code, text = _reply(replies)
    if not code.startswith(first_digit):
        raise _Refused(f"{code} {text}")


# The listener's own refusals of DATA, before the pipeline saw the mail: the size limit
# (counted on the CRLF form, so the in-process path judges the raw bytes) and line length.
_LISTENER_REFUSALS = ("552", "500")


def _exit_code(answers: list[tuple[str, str]]) -> Answer:
    """Every recipient gets the same answer (the mail is stored once): 2xx is 0, 4xx 75, 5xx
    65; the listener's refusals are left to the in-process path."""
    code, text = max(answers, key=lambda answer: answer[0][0] == "4")
    if code in _LISTENER_REFUSALS:
        raise NotHandedOver(f"{code} {text}")
    words = text.split(" ", 1)[1] if re.match(r"\d\.\d+\.\d+ ", text) else text
    if code.startswith("2"):
        return EX_OK, words
    return EX_TEMPFAIL if code.startswith("4") else EX_DATAERR, words


def read_mail(file: str) -> bytes | None:
    """The raw mail `ingest` is given: a file, or stdin for "-"; None (said why) if unread."""
    if file == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        print(f"smartmail ingest: {exc}", file=sys.stderr)
        return None
