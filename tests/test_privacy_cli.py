"""A person's data on request (`smartmail person show|export|erase`), the access log
(`smartmail access-log`), `case show` masked unless `--unmasked`, and the acknowledgement's
privacy note from the rules. Through the `smartmail` command, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.desk.office import (
    EVA,
    OLLE,
    PDF,
    Office,
    office_fixture,  # noqa: F401  (fixture)
    with_attachment,
)
from tests.e2e.mailing import new_mail
from tests.e2e.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
PNR = "19800101-3294"
EVA_TEXT = f"Hej! Dörren är trasig. Mitt personnummer är {PNR} och portkod 4711."


def two_customers(office: Office, olle_sends_the_same_file: bool = False) -> None:
    mail = with_attachment(new_mail(f"Eva Svensson <{EVA}>", "Trasig dörr", EVA_TEXT))
    office.ingest(mail, T0)
    office.answer(office.last_to(EVA), EVA, "Det gäller förrådsdörren.", T0)
    olle = new_mail(OLLE, "Lampa", f"Lampan är trasig, Eva ({EVA.upper()}) såg det också.")
    office.ingest(with_attachment(olle) if olle_sends_the_same_file else olle, T0)


def test_show_and_export_hold_exactly_the_persons_data(office: Office, tmp_path: Path) -> None:
    two_customers(office)
    code, out = office.run("person", "show", EVA)
    assert code == 0
    shown = json.loads(out)
    assert shown["party"]["name"] == "Eva Svensson"
    assert [c["number"] for c in shown["cases"]] == [1]
    assert {m["direction"] for m in shown["messages"]} == {"in", "out"}
    assert OLLE not in out
    assert "Lampan" not in out
    target = tmp_path / "eva.zip"
    assert office.run("person", "export", EVA, "--to", str(target))[0] == 0
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        everything = b"".join(archive.read(n) for n in names)
        person = json.loads(archive.read("person.json"))
    assert person == shown | {"access_log": person["access_log"]}
    assert len([n for n in names if n.startswith("raw/")]) == 2  # her two mails
    assert [n for n in names if n.startswith("attachments/")]
    assert PDF in everything  # her own data, unmasked
    assert PNR.encode() in everything
    assert OLLE.encode() not in everything.lower()
    assert b"Lampan" not in everything
    reads = office.json("access-log", "--person", EVA)
    assert [r["action"] for r in reads] == ["person show", "person export"]
    assert office.run("person", "show", "nobody@kund.example")[0] == 65


def test_erase_leaves_no_trace_of_the_address(office: Office) -> None:
    two_customers(office)
    before = office.json("case", "show", "1")
    assert office.run("person", "erase", EVA)[0] == 64  # not asked on a terminal: nothing
    code, out = office.run("person", "erase", EVA, "--yes")
    assert code == 0, out
    marker = out.split(" erased as ")[1].split(":")[0]
    assert marker.endswith("@invalid")
    needles = (EVA.encode(), b"svensson", PNR.encode(), b"4711", b"f\xc3\xb6rr\xc3\xa5d")
    if office.url.startswith("sqlite"):
        everything = office.all_bytes().lower()
        assert [n for n in needles if n in everything] == []
    else:
        dump = office.dump().lower()
        assert [n for n in needles if n.decode() in dump] == []
    assert [p for p in (office.data / "attachments").rglob("*") if p.is_file()] == []

    after = office.json("case", "show", "1")
    assert after["customer"] == marker
    assert (after["number"], after["status"], after["category"]) == (
        before["number"],
        before["status"],
        before["category"],
    )
    olle = office.json("case", "show", "2")  # someone else's case stays as it was
    assert olle["customer"] == OLLE
    assert olle["subject"] == "Lampa"
    assert "Eva (" in olle["messages"][0]["text"]
    assert marker in olle["messages"][0]["text"]
    reads = office.json("access-log", "--person", marker)  # what was hers is under the marker
    assert [r["action"] for r in reads] == ["case show", "person erase", "case show"]


def test_erase_leaves_a_file_someone_else_sent_too(office: Office) -> None:
    two_customers(office, olle_sends_the_same_file=True)
    assert office.run("person", "erase", EVA, "--yes")[0] == 0
    files = [p for p in (office.data / "attachments").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in files] == [PDF]
    assert office.json("case", "show", "2")["messages"][0]["attachments"][0]["size"] == len(PDF)


def test_case_show_masks_unless_unmasked_and_each_read_is_logged(office: Office) -> None:
    two_customers(office)
    code, out = office.run("case", "show", "1")
    assert code == 0
    assert "19800101-****" in out
    assert "portkod ****" in out
    assert PNR not in out
    code, out = office.run("case", "show", "1", "--unmasked")
    assert PNR in out
    assert "portkod 4711" in out
    reads = office.json("access-log", "--case", "1")
    assert [r["action"] for r in reads] == ["case show", "case show --unmasked"]
    assert {r["person"] for r in reads} == {EVA}
    assert all(r["actor"].endswith("(local)") for r in reads)


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("sv", "Vi sparar ärendet i 36 månader efter att det stängts"),
        ("en", "We keep the case for 36 months after it was closed"),
    ],
)
def test_the_acknowledgement_says_what_the_rules_keep(
    office: Office, rules_path: Path, language: str, says: str
) -> None:
    text = rules_path.read_text().replace("language: sv", f"language: {language}")
    rules_path.write_text(
        text + "privacy:\n  retention: {closed_cases: 36mo}\n  contact: dataskydd@bostad.example\n"
    )
    office.report(EVA, "Trasig dörr", "Dörren är trasig.", T0)
    body = office.last_to(EVA).get_body().get_content()  # type: ignore[union-attr]
    assert says in " ".join(body.split())
    assert "dataskydd@bostad.example" in body


def test_mask_stored_keeps_no_number_in_the_tables_once_the_raw_mail_is_gone(
    office: Office, rules_path: Path
) -> None:
    rules_path.write_text(rules_path.read_text() + "privacy: {mask_stored: true}\n")
    office.report(EVA, f"Nyckel, portkod 4711, pnr {PNR}", EVA_TEXT, T0)
    code, out = office.run("case", "show", "1", "--unmasked")
    assert code == 0
    assert "19800101-****" in out
    assert PNR not in out
    assert "4711" not in out
    raw = office.rows("SELECT data FROM rawmail")
    assert PNR.encode() in bytes(raw[0][0])  # the mail as received, until its own time
    office.sweep(datetime(2026, 6, 2, 10, 0, tzinfo=ZoneInfo("Europe/Stockholm")))
    assert PNR not in office.dump()


def test_a_case_on_legal_hold_keeps_its_reporter_until_the_hold_is_lifted(
    office: Office,
) -> None:
    office.report(EVA, "Trasig dörr", EVA_TEXT, T0)
    notice = office.last_to("anna@bostad.example", subject="ärende 1")
    office.answer(notice, "anna@bostad.example", "#spara", T0)
    assert office.json("case", "show", "1")["hold"] is True
    assert "on legal hold" in office.run("case", "show", "1")[1]
    assert office.run("person", "erase", EVA, "--yes")[0] == 65
    assert office.json("case", "show", "1")["customer"] == EVA
    office.answer(notice, "anna@bostad.example", "#hold off", T0)
    assert office.run("person", "erase", EVA, "--yes")[0] == 0
    assert office.json("case", "show", "1")["subject"] == "[erased]"


def test_erase_takes_mail_written_to_the_sent_dir_that_names_them(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMARTMAIL_OUTBOUND")  # sent mail is written to data/sent/ instead
    office.report(EVA, "Trasig dörr", EVA_TEXT, T0)
    office.report(OLLE, "Lampa", "Lampan är trasig.", T0)
    sent = office.data / "sent"
    assert any(EVA.encode() in p.read_bytes() for p in sent.iterdir())
    assert office.run("person", "erase", EVA, "--yes")[0] == 0
    left = [p.read_bytes() for p in sent.iterdir()]
    assert [b for b in left if EVA.encode() in b.lower()] == []
    assert any(OLLE.encode() in b for b in left)  # his mail stays
