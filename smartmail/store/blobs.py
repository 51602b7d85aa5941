"""Content-addressed files under the data dir: attachments, written once, durably."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path


class BlobStore:
    """Files named by the SHA-256 of their bytes, fanned out by the first two hex digits."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` unless already there; return its SHA-256. Durable when this returns."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        # Per thread too: the daemon may keep the same mail from two threads at once.
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)  # atomic: a reader sees the whole file or none
        _fsync_dir(target.parent)
        return digest

    def adopt(self, temp: Path, sha256: str) -> Path:
        """Move the file `temp`, whose bytes hash to `sha256`, into place (or remove it when
        those bytes are there already); return where they are. Durable when this returns."""
        target = self.path(sha256)
        if target.exists():
            temp.unlink(missing_ok=True)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(temp, target)  # atomic, as in put
        _fsync_dir(target.parent)
        return target


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
