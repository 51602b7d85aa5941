"""Mangled mail, by the hundred: none of it may make the pipeline raise.

A raise is a bug: the mail would land in quarantine instead of being answered. The mail
here is real mail broken at random (seeded, so a failure repeats): bytes cut, flipped and
repeated, headers doubled, encodings that lie, addresses and subjects made of junk.
"""

from __future__ import annotations

import random
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

import pytest

from smartmail.app import App
from smartmail.mail.tokens import tokenized_subject
from smartmail.pipeline.envelope import Envelope

DESK = "felanmalan@bostad.example"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

INSERTS = [
    b"\r\n",
    b"\n",
    b"=?",
    b"?=",
    b"--",
    b"\x00",
    b"\xff\xfe",
    b"=?utf-8?b?",
    b"=?x-unknown?q?=C3?=",
    b'; charset=""',
    b"\r\n\r\n",
    b": ",
    b"<",
    b">",
    b"@",
    b'"',
    b"\\",
    b"=?utf-8,z\xba?q?x?=",
    b'Content-Type: multipart/mixed; boundary="x"\r\n',
    b"Content-Transfer-Encoding: base64\r\n",
    b"Subject: =?utf-8?q?a?=\r\nSubject: b\r\n",
    b"From: <>\r\n",
    b'From: "a" <@>\r\n',
    b"Message-ID: \r\n",
    b"In-Reply-To: <<<>>>\r\n",
    b"References: " + b"<a@b> " * 300 + b"\r\n",
    b"Content-Type: text/plain; charset=utf-7\r\n",
    b"Content-Disposition: attachment; filename*=utf-8''%ff%fe.exe\r\n",
]


HEADERS = [b"Subject", b"From", b"To", b"Cc", b"Reply-To", b"Message-ID", b"In-Reply-To", b"Date"]
JUNK = [
    *(piece for piece in INSERTS if len(piece) < 24 and b"\r" not in piece),
    b"\xc3\xa5",
    b"\xe5",
    b"\x1b[31m",
    b"\xe2\x80\xae",
    b"kund.example",
    b"[#1-abcdefgh]",
    b" ",
]


def seed_mails() -> list[bytes]:
    mails = [path.read_bytes() for path in sorted(FIXTURES.rglob("*.eml"))]
    for number, (subject, body) in enumerate(
        [
            ("Stopp i avloppet", "Det är stopp i avloppet i köket.\n\nMvh Eva"),
            (tokenized_subject("SV: Stopp", 1, b"test-secret"), "Nu rinner det över.\n> citat"),
            ("Fuktfläck", "<p>Se <b>bilden</b>.</p>"),
        ]
    ):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = f"Eva <eva{number}@kund.example>", DESK, subject
        msg["Message-ID"] = f"<seed{number}@kund.example>"
        if body.startswith("<p>"):
            msg.set_content(body, subtype="html")
            msg.add_attachment(b"\xff\xd8" + bytes(2000), maintype="image", subtype="jpeg")
        else:
            msg.set_content(body)
        mails.append(msg.as_bytes())
    return mails


def mangled(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        at = rng.randrange(len(data))
        change = rng.randrange(9)
        if change == 0:
            del data[at : at + rng.randint(1, 200)]
        elif change == 1:
            data[at] = rng.randrange(256)
        elif change == 2:
            data[at:at] = rng.choice(INSERTS)
        elif change == 3:
            del data[at:]
        elif change == 4:
            start = rng.randrange(len(data))
            data[at:at] = data[start : start + rng.randint(1, 500)]
        elif change == 5:
            data = bytearray(bytes(data).replace(b"\r\n", b"\n"))
        elif change == 6:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 50)))
        elif change == 7:
            data += b"\r\n--" + bytes(data[: rng.randint(0, 60)])
        else:  # a header made of junk, put first: the one that counts
            name = rng.choice(HEADERS)
            junk = b"".join(rng.choice(JUNK) for _ in range(rng.randint(1, 30)))
            data[0:0] = name + b": " + junk + b"\r\n"
    return bytes(data)


@pytest.mark.parametrize("seed", [1, 2])
def test_mangled_mail_is_stored_and_never_raises(app: App, seed: int) -> None:
    rng = random.Random(seed)
    seeds = seed_mails()
    outcomes: Counter[str] = Counter()
    for _ in range(300):
        raw = mangled(rng.choice(seeds), rng)
        sender = rng.choice(["eva0@kund.example", "", None, "kalle@bostad.example"])
        outcome = app.pipeline.process(raw, Envelope("smtp", sender, (DESK,)))
        assert outcome.kind != "quarantined", (outcome.detail, raw[:300])
        outcomes[outcome.kind] += 1
    assert outcomes["new_case"] > 50  # mangled, yet most of it still opens cases
