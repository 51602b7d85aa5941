"""The mailboxes `smartmail import` reads: an mbox file, a Maildir, or an IMAP folder.

Each is read in two passes: `find` lists every mail with the moment it was written (its
Date header, else when the mailbox got it: the mbox's From line, the Maildir file's time,
IMAP's INTERNALDATE), so the import can go oldest first; `read` then gives the bytes of
the mails asked for, in that order. Nothing in the mailbox is changed: the IMAP folder is
opened read-only and no mail in it is flagged or moved.
"""

from __future__ import annotations

import email.utils
import mailbox
import os
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any, Protocol, cast

from imapclient import IMAPClient, SocketTimeout

from smartmail.config import ImapMailbox, parse_imap_url
from smartmail.errors import ConfigError

_HEADERS = BytesHeaderParser(policy=policy.compat32)
_IMAP_CHUNK = 200  # mails per FETCH
_TIMEOUT = SocketTimeout(connect=10.0, read=120.0)


@dataclass(frozen=True)
class Found:
    """A mail in the mailbox: where it is, and when it was written (UTC)."""

    key: str | int
    at: datetime


class Mailbox(Protocol):
    def find(self) -> list[Found]: ...

    def read(self, keys: Sequence[str | int]) -> Iterator[bytes]: ...

    def close(self) -> None: ...


def open_mailbox(where: str) -> Mailbox:
    """An IMAP URL (`imap://user:pass@host/Folder`, as SMARTMAIL_IMAP), a Maildir (a folder
    with cur/ or new/) or an mbox file; ConfigError for anything else, saying what."""
    if where.startswith(("imap://", "imaps://")):
        return ImapFolder(parse_imap_url(where))
    path = Path(where)
    if path.is_dir():
        if not ((path / "cur").is_dir() or (path / "new").is_dir()):
            raise ConfigError(f"{where}: a folder, but no Maildir (it has no cur/ or new/)")
        return MaildirFolder(path)
    if path.is_file():
        return MboxFile(path)
    raise ConfigError(
        f"{where}: no such file or folder (give an mbox file, a Maildir or an IMAP URL)"
    )


def written_at(raw: bytes, fallback: datetime | None) -> datetime:
    """The Date header's moment; else `fallback`; else now. A date in the future (a wrong
    clock) counts as `fallback`'s, or now."""
    now = datetime.now(UTC)
    found = header_date(raw)
    if found is None or found > now:
        found = fallback if fallback is not None and fallback <= now else now
    return found.astimezone(UTC)


def header_date(raw: bytes) -> datetime | None:
    """The Date header of a mail (or of its header alone), None when missing or unreadable."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    value = _HEADERS.parsebytes(head).get("Date")
    try:
        found = email.utils.parsedate_to_datetime(str(value)) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if found is not None and found.tzinfo is None:
        return found.replace(tzinfo=UTC)
    return found


class MboxFile:
    def __init__(self, path: Path) -> None:
        self.box = mailbox.mbox(path, create=False)

    def find(self) -> list[Found]:
        found = []
        for key in self.box.iterkeys():
            raw = self.box.get_bytes(key)
            fallback = self._from_line(key) if header_date(raw) is None else None
            found.append(Found(key, written_at(raw, fallback)))
        return found

    def _from_line(self, key: str) -> datetime | None:
        """The date on the mbox's `From sender Tue Nov 24 10:00:00 2026` line."""
        line = self.box.get_file(key, from_=True).readline().decode("ascii", "replace")
        try:
            stamp = time.strptime(" ".join(line.split()[-5:]), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            return None
        return datetime(*stamp[:6], tzinfo=UTC)

    def read(self, keys: Sequence[str | int]) -> Iterator[bytes]:
        for key in keys:
            yield self.box.get_bytes(cast(str, key))  # an int, whatever the stubs say

    def close(self) -> None:
        self.box.close()


class MaildirFolder:
    """Its cur/ and new/ files, read as they are (no flags changed, nothing moved)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def find(self) -> list[Found]:
        found = []
        for sub in ("cur", "new"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith(".") or not entry.is_file():
                        continue
                    got = datetime.fromtimestamp(entry.stat().st_mtime, UTC)
                    raw = Path(entry.path).read_bytes()
                    found.append(Found(f"{sub}/{entry.name}", written_at(raw, got)))
        return found

    def read(self, keys: Sequence[str | int]) -> Iterator[bytes]:
        for key in keys:
            yield (self.path / str(key)).read_bytes()

    def close(self) -> None:
        pass


class ImapFolder:
    """One folder, opened read-only: the server keeps every flag as it was."""

    def __init__(self, box: ImapMailbox) -> None:
        self.box = box
        self.client: Any = IMAPClient(
            box.host,
            port=box.port,
            ssl=box.tls,
            ssl_context=ssl.create_default_context() if box.tls else None,
            timeout=_TIMEOUT,
        )
        self.client.login(box.username, box.password)
        self.client.select_folder(box.folder, readonly=True)

    def find(self) -> list[Found]:
        uids = sorted(self.client.search("ALL"))
        found = []
        for start in range(0, len(uids), _IMAP_CHUNK):
            chunk = uids[start : start + _IMAP_CHUNK]
            fetched = self.client.fetch(chunk, ["INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (DATE)]"])
            for uid in chunk:
                data = fetched.get(uid, {})
                internal = data.get(b"INTERNALDATE")
                if isinstance(internal, datetime) and internal.tzinfo is None:
                    internal = internal.astimezone(UTC)  # imapclient gives local time
                head = data.get(b"BODY[HEADER.FIELDS (DATE)]", b"")
                found.append(Found(uid, written_at(head, internal)))
        return found

    def read(self, keys: Sequence[str | int]) -> Iterator[bytes]:
        for start in range(0, len(keys), _IMAP_CHUNK):
            chunk = [int(key) for key in keys[start : start + _IMAP_CHUNK]]
            fetched = self.client.fetch(chunk, ["BODY.PEEK[]"])
            for uid in chunk:
                yield fetched.get(uid, {}).get(b"BODY[]", b"")

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:
            self.client.shutdown()
