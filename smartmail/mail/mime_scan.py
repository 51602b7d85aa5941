"""Large attachments decoded straight into files before a mail is parsed.

The email package holds a mail several times over while it reads it (as text, as a list
of lines per part, joined, then decoded). `spool` finds the MIME structure on the raw
bytes (header blocks read by the stdlib, boundaries found by offset, big bodies never
sliced) and decodes each large part that body.py would make an attachment of (base64,
quoted-printable or as it is) piece by piece into a file in the spool directory, hashing
as it goes. The skeleton it returns is the mail with those bodies left out and a header
naming each file; the header's name holds a secret of this process, so no sender can
write one. Whatever the scan is not sure to read as the email package does (no closing
boundary, defects in a header block, a bare CR, base64 that the strict decoder refuses,
attached mails, digests) stays in the skeleton as it came, and is parsed as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path

from smartmail.mail.body import attachment_name, is_attachment
from smartmail.mail.spooled import MARKER, Spooled

THRESHOLD = 256 * 1024  # smaller parts are parsed with the rest of the mail
_PIECE = 1 << 20  # bytes decoded at a time
_MAX_DEPTH = 30
_CTES = frozenset({"", "7bit", "8bit", "binary", "base64", "quoted-printable"})
_HEADER_END = re.compile(rb"\n\r?\n")
#: What may follow "--boundary" on a delimiter line (the email package's own reading).
_DELIMITER_TAIL = re.compile(rb"(--)?[ \t]*(\r\n|\n|\r|\Z)")


class _Unsure(Exception):
    """The scan might read this differently from the email package: leave it as it is."""


@dataclass(frozen=True)
class SpoolTo:
    directory: Path
    threshold: int = THRESHOLD


@dataclass
class _Leaf:
    header_start: int
    body_start: int
    body_end: int
    cte: str
    newline: bytes


@dataclass
class Spooling:
    skeleton: bytes
    files: dict[str, Spooled] = field(default_factory=dict)


def spool(data: bytes, to: SpoolTo | None) -> Spooling:
    """The mail with its large attachments in files; `data` itself when there are none."""
    if to is None or len(data) < to.threshold:
        return Spooling(data)
    walk = _Walk(data, to.threshold)
    try:
        headers, body_start = _header_block(data, 0, len(data))
        walk.multipart(headers, body_start, len(data), [], 0)
    except _Unsure:
        pass
    leaves = walk.leaves
    if not leaves:
        return Spooling(data)
    to.directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Spooled] = {}
    pieces: list[bytes] = []
    done = 0
    for leaf in leaves:
        spooled = _decode_to_file(data, leaf, to.directory)
        if spooled is None:
            continue
        token = uuid.uuid4().hex
        files[token] = spooled
        mark = f"{MARKER}: {token}".encode() + leaf.newline
        pieces += [data[done : leaf.header_start], mark, data[leaf.header_start : leaf.body_start]]
        done = leaf.body_end
    if not files:
        return Spooling(data)
    pieces.append(data[done:])
    return Spooling(b"".join(pieces), files)


def remove_stale(directory: Path, older_than: float = 24 * 3600) -> int:
    """Remove spooled files a process that stopped (killed mid-mail) left; how many. A day
    old: no other process sharing the data dir is still reading such a mail."""
    gone = 0
    try:
        entries = list(directory.glob(".spool-*.tmp"))
    except OSError:
        return 0
    for path in entries:
        try:
            if path.stat().st_mtime < time.time() - older_than:
                path.unlink()
                gone += 1
        except OSError:
            continue  # gone already
    return gone


# --------------------------------------------------------------------------- structure


def _header_block(data: bytes, start: int, end: int) -> tuple[Message, int]:
    """A part's headers and where its body starts."""
    found = _HEADER_END.search(data, start, end)
    if found is None or data.startswith((b"\n", b"\r"), start):
        raise _Unsure
    block = data[start : found.start() + 1]
    if re.search(rb"\r(?!\n)", block):
        raise _Unsure
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(block)
    if headers.defects:
        raise _Unsure
    return headers, found.end()


def _parts(data: bytes, start: int, end: int, marker: bytes) -> Iterator[tuple[int, int]]:
    """Each part's range, up to the line ending before the next delimiter line."""
    lines = list(_delimiters(data, start, end, marker))
    if not lines or not lines[-1][2]:
        raise _Unsure  # no closing delimiter: the email package reads it its own way
    for (_at, line_end, _last), (next_at, _next_end, _) in itertools.pairwise(lines):
        yield line_end, next_at


def _delimiters(
    data: bytes, start: int, end: int, marker: bytes
) -> Iterator[tuple[int, int, bool]]:
    at = data.find(marker, start, end)
    while at >= 0:
        if at == start or data[at - 1] == 0x0A:
            tail = _DELIMITER_TAIL.match(data, at + len(marker), end)
            if tail:
                if tail.group(2) == b"\r" and data[tail.end() : tail.end() + 1] == b"\n":
                    raise _Unsure
                yield at, tail.end(), bool(tail.group(1))
                if tail.group(1):
                    return
        at = data.find(marker, at + 1, end)


@dataclass
class _Walk:
    """One mail's MIME tree walked on its bytes; `leaves` are the parts to spool."""

    data: bytes
    threshold: int
    leaves: list[_Leaf] = field(default_factory=list)

    def multipart(
        self, headers: Message, start: int, end: int, outer: list[bytes], depth: int
    ) -> None:
        data = self.data
        boundary = headers.get_boundary() if headers.get_content_maintype() == "multipart" else None
        if not boundary or depth > _MAX_DEPTH or headers.get_content_subtype() == "digest":
            return
        if not boundary.isascii():
            raise _Unsure  # the email package reads 8-bit bytes in it its own way
        marker = b"--" + boundary.encode("ascii")
        if any(marker.startswith(other) or other.startswith(marker) for other in outer):
            raise _Unsure
        for part_start, part_end in _parts(data, start, end, marker):
            try:
                self.part(part_start, part_end, [*outer, marker], depth)
            except _Unsure:
                continue

    def part(self, start: int, end: int, outer: list[bytes], depth: int) -> None:
        data = self.data
        headers, body_start = _header_block(data, start, end)
        if headers.get_content_maintype() == "multipart":
            self.multipart(headers, body_start, end, outer, depth + 1)
            return
        ctype = headers.get_content_type()
        cte = str(headers.get("content-transfer-encoding", "")).lower()
        if ctype.startswith("message/") or cte not in _CTES:
            return
        if not is_attachment(headers, ctype, attachment_name(headers)):
            return
        newline = b"\r\n" if data.endswith(b"\r\n", start, end) else b"\n"
        if not data.endswith(newline, start, end):
            raise _Unsure
        body_end = end - len(newline)
        if body_end - body_start < max(self.threshold, 1):
            return
        # No line in it may look like a boundary, of this multipart or any around it.
        if data.startswith(b"--", body_start) or any(
            data.find(sep, body_start, body_end) >= 0 for sep in (b"\n--", b"\r--")
        ):
            raise _Unsure
        self.leaves.append(_Leaf(start, body_start, body_end, cte, newline))


# --------------------------------------------------------------------------- decoding


def _decode_to_file(data: bytes, leaf: _Leaf, directory: Path) -> Spooled | None:
    """The part decoded into a new file; None (and no file) when it will not decode strictly
    as the email package would."""
    temp = directory / f".spool-{uuid.uuid4().hex}.tmp"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(temp, "wb") as out:
            for piece in _decoded(data, leaf):
                digest.update(piece)
                out.write(piece)
                size += len(piece)
    except (_Unsure, binascii.Error, ValueError):
        temp.unlink(missing_ok=True)
        return None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return Spooled(temp, digest.hexdigest(), size)


def _decoded(data: bytes, leaf: _Leaf) -> Iterator[bytes | memoryview]:
    view = memoryview(data)
    if leaf.cte == "base64":
        yield from _base64(data, leaf)
    elif leaf.cte == "quoted-printable":
        for start, end in _line_pieces(data, leaf.body_start, leaf.body_end):
            yield binascii.a2b_qp(view[start:end], header=False)
    else:
        for start, end in _line_pieces(data, leaf.body_start, leaf.body_end):
            yield view[start:end]


def _base64(data: bytes, leaf: _Leaf) -> Iterator[bytes]:
    """As email's decode_b: line breaks dropped, then strictly decoded; in pieces whose
    length is a multiple of four, only the last one may hold padding."""
    carry = b""
    pieces = list(_line_pieces(data, leaf.body_start, leaf.body_end))
    for index, (start, end) in enumerate(pieces):
        text = carry + b"".join(data[start:end].splitlines())
        last = index == len(pieces) - 1
        cut = len(text) if last else len(text) - len(text) % 4
        text, carry = text[:cut], text[cut:]
        if last and len(text) % 4:
            raise _Unsure  # decode_b pads it and notes a defect: let it
        if not last and b"=" in text:
            raise _Unsure
        yield base64.b64decode(text, validate=True)


def _line_pieces(data: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """[start, end) in pieces of about _PIECE bytes, each ending after a line break."""
    while start < end:
        cut = data.find(b"\n", min(start + _PIECE, end), end)
        cut = end if cut < 0 else cut + 1
        yield start, cut
        start = cut
