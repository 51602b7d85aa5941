"""`smartmail suppressed` in-process, with a bounce piped in through `smartmail ingest`."""

from __future__ import annotations

import json
from email.utils import make_msgid
from pathlib import Path

import pytest

from smartmail.cli import main
from tests.mail import bounce_mails

CUSTOMER = "eva@kund.example"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rules_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMARTMAIL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMARTMAIL_RULES", str(rules_path))
    monkeypatch.setenv("SMARTMAIL_SECRET", "cli-secret")


def ingest(tmp_path: Path, raw: bytes, *envelope: str) -> int:
    path = tmp_path / "in.eml"
    path.write_bytes(raw)
    return main(["ingest", str(path), *envelope])


def acknowledgement(tmp_path: Path) -> tuple[str, str]:
    """(envelope sender, Message-ID) of the acknowledgement written to data/sent."""
    for path in sorted((tmp_path / "data" / "sent").glob("*.eml")):
        text = path.read_text()
        if f"X-Envelope-To: {CUSTOMER}" in text:
            sender = text.split("X-Envelope-From: <", 1)[1].split(">", 1)[0]
            message_id = text.split("\nMessage-ID: ", 1)[1].split("\r", 1)[0]
            return sender, message_id
    raise AssertionError("no acknowledgement written")


def test_list_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["suppressed"]) == 0
    assert capsys.readouterr().out == "no address is suppressed\n"
    mail = (
        f"From: Eva <{CUSTOMER}>\r\nTo: felanmalan@bostad.example\r\n"
        f"Message-ID: {make_msgid(domain='kund.example')}\r\n"
        "Subject: Stopp i avloppet\r\n\r\nDet är stopp.\r\n"
    ).encode()
    assert ingest(tmp_path, mail, "--sender", CUSTOMER) == 0
    verp, ack_id = acknowledgement(tmp_path)
    report = bounce_mails.rfc3464(to=verp, returned_id=ack_id, recipient=CUSTOMER)
    assert ingest(tmp_path, report, "--sender", "", "--recipient", verp) == 0
    stored, bounced = capsys.readouterr().out.splitlines()
    assert stored.startswith("new_case case 1 <")
    assert bounced.startswith("bounce case 1 <")
    assert bounced.endswith(f"{CUSTOMER} 5.1.1")

    assert main(["suppressed"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{CUSTOMER}  until ")
    assert "UTC  case 1  5.1.1 550 5.1.1" in line

    assert main(["suppressed", "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert set(row) == {"address", "until", "reason", "case", "created_at"}
    assert (row["address"], row["case"]) == (CUSTOMER, 1)

    assert main(["suppressed", "remove", "Eva@Kund.Example"]) == 0
    assert capsys.readouterr().out == f"{CUSTOMER}: removed; automatic mail goes to it again\n"
    assert main(["suppressed", "remove", CUSTOMER]) == 65
    assert "is not suppressed" in capsys.readouterr().err
    assert main(["suppressed", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
