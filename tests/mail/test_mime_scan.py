"""Large attachments decoded into files before the parse (mail/mime_scan.py): the mail
reads the same as when everything is parsed in memory, and no file outlives its mail."""

from __future__ import annotations

import base64
import gc
import hashlib
import os
import quopri
import random
import smtplib
import tempfile
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from smartmail.mail.mime_scan import SpoolTo, remove_stale
from smartmail.mail.parse import ParsedMail, parse
from smartmail.mail.spooled import MARKER
from smartmail.store.db import transaction
from smartmail.store.models import Attachment
from tests.mail.conftest import DESK, Desk

_BOUNDARY_CHARS = "ABCxyz019'()+_,-./:=? "
_TYPES = ["application/pdf", "image/jpeg", "application/octet-stream", "text/csv", "text/plain"]
_CTES = ["base64", "quoted-printable", "8bit", "7bit", "", "binary", "BASE64", "x-uuencode"]


@st.composite
def _leaf(draw: st.DrawFn, nl: bytes) -> bytes:
    ctype = draw(st.sampled_from(_TYPES))
    cte = draw(st.sampled_from(_CTES))
    payload = draw(st.binary(max_size=2000) | st.sampled_from([b"", b"--x\n--y", b"ab\r\ncd\r"]))
    if cte.lower() == "base64":
        width = draw(st.sampled_from([76, 64, 4, 3, 1000]))
        text = base64.b64encode(payload)
        body = nl.join(text[i : i + width] for i in range(0, len(text), width))
        if draw(st.booleans()):  # odd padding, stray characters
            body = body.rstrip(b"=") + draw(st.sampled_from([b"", b"!", b"=", b" "]))
    elif cte == "quoted-printable":
        body = quopri.encodestring(payload).replace(b"\n", nl)
    else:
        body = payload
    name = draw(st.sampled_from(["", "rapport.pdf", "l\u00e5ng fil med namn.bin"]))
    headers = [f"Content-Type: {ctype}"]
    if name:
        headers.append(f'Content-Disposition: attachment;{nl.decode()}\tfilename="{name}"')
    if cte:
        headers.append(f"Content-Transfer-Encoding: {cte}")
    if draw(st.booleans()):
        headers.append("Content-ID: <bild@kund.example>")
    head = nl.join(h.encode("utf-8") for h in headers)
    return head + nl + nl + body


@st.composite
def _tree(draw: st.DrawFn, nl: bytes, depth: int = 0) -> bytes:
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(_leaf(nl))
    boundary = draw(st.text(_BOUNDARY_CHARS, min_size=1, max_size=30)).rstrip() or "b"
    subtype = draw(st.sampled_from(["mixed", "related", "alternative", "digest"]))
    children = draw(st.lists(_tree(nl, depth + 1), min_size=0, max_size=4))
    text = b"Content-Type: multipart/" + subtype.encode() + b'; boundary="'
    head = text + boundary.encode() + b'"' + nl + nl
    preamble = draw(st.sampled_from([b"", b"This is MIME." + nl]))
    delimiter = b"--" + boundary.encode()
    parts = b"".join(delimiter + nl + child + nl for child in children)
    close = delimiter + b"--" + nl if draw(st.integers(0, 9)) else b""  # sometimes none
    epilogue = draw(st.sampled_from([b"", b"epilogue" + nl]))
    return head + preamble + parts + close + epilogue


@st.composite
def _mail(draw: st.DrawFn) -> bytes:
    nl = draw(st.sampled_from([b"\r\n", b"\n"]))
    top = [b"From: Kund <kund@kund.example>", b"To: desk@bostad.example", b"Subject: Foto"]
    if draw(st.booleans()):
        top.append(b"Message-ID: <1@kund.example>")
    return nl.join(top) + nl + draw(_tree(nl))


def _reading(mail: ParsedMail) -> tuple[object, ...]:
    files = [(a.filename, a.content_type, a.read(), a.content_id) for a in mail.attachments]
    return (
        mail.message_id,
        mail.subject,
        mail.text,
        mail.html,
        mail.content_type,
        files,
        mail.defects,
        mail.notes,
        mail.headers,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mail())
def test_a_spooled_mail_reads_as_one_parsed_in_memory(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        spooled = parse(raw, None, SpoolTo(Path(tmp), threshold=0))
        assert _reading(spooled) == _reading(parse(raw))
        del spooled
        gc.collect(1)  # young objects only: a full pass walks the whole test run
        assert not list(Path(tmp).iterdir())  # nothing kept: no file left


def _photo_mail(size: int) -> bytes:
    photo = bytes(range(256)) * (size // 256)
    lines = base64.encodebytes(photo).replace(b"\n", b"\r\n")
    return (
        b"From: kund@kund.example\r\nSubject: Foto\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="gr-ans"\r\n\r\n'
        b"--gr-ans\r\nContent-Type: text/plain\r\n\r\nH\xc3\xa4r \xc3\xa4r bilden.\r\n"
        b"--gr-ans\r\nContent-Type: image/jpeg; name=skada.jpg\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + lines + b"--gr-ans--\r\n"
    )


def test_a_large_photo_is_in_a_file_and_read_from_it(tmp_path: Path) -> None:
    raw = _photo_mail(1 << 20)
    mail = parse(raw, None, SpoolTo(tmp_path))
    (photo,) = mail.attachments
    assert photo.payload == b""
    assert photo.spooled is not None
    assert photo.size == 1 << 20
    assert photo.read() == parse(raw).attachments[0].payload
    assert mail.text == "Här är bilden."


def test_a_forged_marker_header_is_only_a_header(tmp_path: Path) -> None:
    raw = _photo_mail(1 << 19).replace(
        b"Content-Type: image/jpeg", f"{MARKER.lower()}: 0\r\nContent-Type: image/jpeg".encode()
    )
    mail = parse(raw)  # no spooling: a sender's header names no file
    assert mail.attachments[0].spooled is None
    assert len(mail.attachments[0].payload) == 1 << 19


def test_a_boundary_in_8_bit_is_left_to_the_parser(tmp_path: Path) -> None:
    raw = _photo_mail(1 << 19).replace(b"gr-ans", b"gr\xc3\xa4ns")
    mail = parse(raw, None, SpoolTo(tmp_path))
    assert _reading(mail) == _reading(parse(raw))
    assert not list(tmp_path.iterdir())


def test_small_mails_and_bad_base64_stay_in_memory(tmp_path: Path) -> None:
    assert parse(_photo_mail(1 << 12), None, SpoolTo(tmp_path)).attachments[0].spooled is None
    broken = _photo_mail(1 << 19).replace(b"AAEC", b"AA!C", 1)
    mail = parse(broken, None, SpoolTo(tmp_path))
    assert mail.attachments[0].spooled is None
    assert mail.attachments[0].payload == parse(broken).attachments[0].payload
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ over SMTP, into the store


def _big_mail(message_id: str, size: int) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "kund@kund.example", DESK, "Foto av skadan"
    msg["Message-ID"] = message_id
    msg.set_content("Här är bilden på skadan.")
    photo = random.Random(message_id).randbytes(size)
    msg.add_attachment(photo, "image", "jpeg", filename="skada.jpg")
    return msg.as_bytes(policy=policy.SMTP)


def _spool_dir(desk: Desk) -> Path:
    return desk.app.settings.attachment_dir / ".spool"


def test_a_large_photo_over_smtp_is_kept_by_its_hash(desk: Desk) -> None:
    raw = _big_mail("<foto-1@kund.example>", 600_000)
    desk.send(raw, "kund@kund.example")
    desk.send(
        raw, "kund@kund.example"
    )  # the listener takes up to 1 MB; a resend: a duplicate, its file not kept twice
    with transaction(desk.app.engine) as session:
        (row,) = session.exec(select(Attachment)).all()
    photo = random.Random("<foto-1@kund.example>").randbytes(600_000)
    assert (row.filename, row.size) == ("skada.jpg", len(photo))
    assert row.sha256 == hashlib.sha256(photo).hexdigest()
    assert desk.app.pipeline.attachment_store.path(row.sha256).read_bytes() == photo
    gc.collect()
    assert not list(_spool_dir(desk).iterdir())


def test_a_mail_that_cannot_be_kept_leaves_no_file(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(temp: Path, sha256: str) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(desk.app.pipeline.attachment_store, "adopt", full_disk)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        desk.send(_big_mail("<foto-2@kund.example>", 600_000), "kund@kund.example")
    assert refused.value.smtp_code == 451  # the sender tries again later
    assert _spool_dir(desk).is_dir()
    assert not list(_spool_dir(desk).iterdir())
    with transaction(desk.app.engine) as session:
        assert not session.exec(select(Attachment)).all()


def test_files_a_stopped_process_left_are_removed_after_a_day(tmp_path: Path) -> None:
    old, new = tmp_path / ".spool-old.tmp", tmp_path / ".spool-new.tmp"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (0, 0))
    assert remove_stale(tmp_path) == 1
    assert [path.name for path in tmp_path.iterdir()] == [new.name]
