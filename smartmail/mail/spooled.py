"""An attachment decoded into a file of its own while its mail was read (see mime_scan.py).

The file lies in the spool directory until the attachment is kept (BlobStore.adopt moves
it into place); whatever is not kept is removed when the last reference to it goes, so a
mail that fails, is quarantined or was already stored leaves no file behind.
"""

from __future__ import annotations

import secrets
import weakref
from dataclasses import dataclass, field
from pathlib import Path

#: The header that marks a spooled part in the mail given to the parser. Its name holds a
#: secret of this process: no sender can write one.
MARKER = f"X-Smartmail-Spooled-{secrets.token_hex(12)}"


@dataclass(eq=False)
class Spooled:
    temp: Path  # where the scan wrote it
    sha256: str
    size: int
    path: Path = field(init=False)  # where it is now: `temp`, or its place in the blob store

    def __post_init__(self) -> None:
        self.path = self.temp
        weakref.finalize(self, _remove, self.temp)

    def read(self) -> bytes:
        return self.path.read_bytes()

    def discard(self) -> None:
        _remove(self.temp)


def _remove(temp: Path) -> None:
    temp.unlink(missing_ok=True)  # moved into the blob store, or gone already
