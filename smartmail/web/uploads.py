"""A post's body read within the rules' limits, and its files judged by their bytes.

The size is checked before the body is read: a declared Content-Length over the limit is
refused at once, and a body without one (chunked) is read only up to the limit. A file is
what its bytes are (a JPEG that Pillow reads as a JPEG, a PDF that starts as one), never
what the browser or its name says; its name is ours (`photo-1.jpg`).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web
from PIL import Image

from smartmail.mail.phrases import N_, Phrase, phrase
from smartmail.rules.model import WebForm

MB = 1024 * 1024
FIELDS_ALLOWANCE = 64 * 1024  # room for the text fields and the multipart framing
MAX_FIELD_BYTES = 20_000  # the longest text field (the description) a post may hold
FILE_FIELD = "photos"
_CHUNK = 64 * 1024

# What Pillow names a format -> the content type and file ending we give it.
_IMAGES = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}


class TooLarge(Exception):
    """The post is larger than the rules allow (HTTP 413)."""


class NotAForm(Exception):
    """The body is not a form a browser sends (HTTP 400)."""


@dataclass(frozen=True)
class Upload:
    content_type: str
    extension: str
    payload: bytes


@dataclass
class Posted:
    """What a post held: its text fields, its files, and what is wrong with them."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)
    problems: dict[str, Phrase] = field(default_factory=dict)  # field name -> what is wrong


def max_post_bytes(limits: WebForm) -> int:
    return limits.max_total_mb * MB + FIELDS_ALLOWANCE


def refuse_when_declared_too_large(request: web.Request, limits: WebForm) -> None:
    """Before anything of the body is read."""
    declared = request.content_length
    if declared is not None and declared > max_post_bytes(limits):
        raise TooLarge


async def read_post(request: web.Request, limits: WebForm, text_fields: set[str]) -> Posted:
    """The multipart body: the named text fields, and files of `photos` checked."""
    refuse_when_declared_too_large(request, limits)
    if request.content_type != "multipart/form-data":
        raise NotAForm
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError) as exc:
        raise NotAForm from exc
    budget = _Budget(max_post_bytes(limits))
    posted = Posted()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):  # a nested multipart: no browser sends one
            raise NotAForm
        if part.name == FILE_FIELD:
            await _file(part, budget, limits, posted)
        elif part.name in text_fields and part.name not in posted.fields:
            await _text(part, budget, posted)
        else:
            await _skip(part, budget)
    return posted


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise TooLarge


async def _chunks(part: BodyPartReader, budget: _Budget, keep: int) -> tuple[bytes, bool]:
    """The part's bytes (the first `keep` of them) and whether it held more than that."""
    kept = bytearray()
    over = False
    while chunk := await part.read_chunk(_CHUNK):
        budget.spend(len(chunk))
        if len(kept) + len(chunk) > keep:
            over = True
        else:
            kept += chunk
    return bytes(kept), over


async def _skip(part: BodyPartReader, budget: _Budget) -> None:
    await _chunks(part, budget, 0)


async def _text(part: BodyPartReader, budget: _Budget, posted: Posted) -> None:
    name = str(part.name)
    data, over = await _chunks(part, budget, MAX_FIELD_BYTES)
    if over:
        posted.problems[name] = phrase(N_("This is too long."))
        return
    try:
        posted.fields[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        posted.problems[name] = phrase(N_("This could not be read."))


async def _file(part: BodyPartReader, budget: _Budget, limits: WebForm, posted: Posted) -> None:
    data, over = await _chunks(part, budget, limits.max_file_mb * MB)
    if not data and not over:  # a file field left empty
        return
    if over:
        posted.problems[FILE_FIELD] = phrase(
            N_("A file is larger than {size} MB."), size=limits.max_file_mb
        )
        return
    if len(posted.files) >= limits.max_files:
        posted.problems[FILE_FIELD] = phrase(
            N_("At most {count} files may be sent."), count=limits.max_files
        )
        return
    kind = kind_of(data)
    if kind is None:
        posted.problems[FILE_FIELD] = phrase(
            N_("Only photos (JPEG, PNG, GIF, WebP) and PDF files may be sent.")
        )
        return
    posted.files.append(Upload(kind[0], kind[1], data))


def kind_of(data: bytes) -> tuple[str, str] | None:
    """(content type, file ending) of what the bytes are; None for anything else."""
    if data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]:
        return "application/pdf", "pdf"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                found = image.format or ""
                image.verify()  # the structure
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (256, 256))  # a JPEG decodes at a fraction of its size
                image.load()  # and the pixels: a JPEG head on other bytes fails here
    except Exception:  # anything Pillow cannot read as an image is no photo
        return None
    return _IMAGES.get(found)
