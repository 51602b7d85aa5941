"""The `smartmail` command in-process: rules check and explain, exit codes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from smartmail.cli import main

SAMPLES = Path(__file__).parent / "fixtures" / "samples"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rules_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMARTMAIL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMARTMAIL_RULES", str(rules_path))
    monkeypatch.setenv("SMARTMAIL_SECRET", "cli-secret")


def test_rules_check_accepts_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    shipped = Path(__file__).resolve().parent.parent / "rules.yaml"
    assert main(["rules", "check", str(shipped)]) == 0
    assert "OK" in capsys.readouterr().out


def test_rules_check_names_file_line_and_key(
    tmp_path: Path, rules_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    text = rules_path.read_text().replace("resolve_within: 3d", "resolve_within: three days")
    broken.write_text(text)
    line = text.splitlines().index("    resolve_within: three days") + 1
    assert main(["rules", "check", str(broken)]) == 65
    assert f"broken.yaml:{line}: priorities[1].resolve_within:" in capsys.readouterr().err


def test_rules_explain_prints_route_owner_and_deadlines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mail = tmp_path / "mail.eml"
    mail.write_bytes(
        b"From: Eva <eva@kund.example>\r\nTo: felanmalan@bostad.example\r\n"
        b"Subject: Stopp i avloppet\r\n\r\nVattnet rinner inte undan i avloppet.\r\n"
    )
    assert main(["rules", "explain", str(mail), "--now", "2026-11-20T15:30:00+01:00"]) == 0
    out = capsys.readouterr().out
    assert "route:       Skador i lägenheten / Stopp i avlopp" in out
    assert "avloppet~avlopp" in out
    assert "owner:       kalle@bostad.example" in out
    assert "resolve by:  Sat 2026-11-21 15:30 CET" in out
    assert "escalate:    Sat 2026-11-21 15:30 CET to forvaltare" in out
    assert main(["case", "list", "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"  # explaining stored nothing


def test_ingest_of_a_shipped_sample(capsys: pytest.CaptureFixture[str]) -> None:
    sample = next(SAMPLES.glob("*.eml"))
    assert main(["ingest", str(sample)]) == 0
    assert capsys.readouterr().out.startswith("new_case case 1")
    assert main(["case", "show", "1", "--json"]) == 0
    assert '"number": 1' in capsys.readouterr().out
    assert main(["case", "show", "9"]) == 65


@pytest.mark.parametrize("nothing", [b"", b"\r\n", b" \n\n"], ids=["zero", "crlf", "blank"])
def test_ingest_refuses_no_mail_and_stores_headers_without_a_body(
    tmp_path: Path, nothing: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.eml"
    empty.write_bytes(nothing)
    assert main(["ingest", str(empty)]) == 65
    assert "empty mail, nothing to store" in capsys.readouterr().err
    headers_only = tmp_path / "headers.eml"
    headers_only.write_bytes(b"From: eva@kund.example\r\nSubject: Tom\r\n")
    assert main(["ingest", str(headers_only), "--sender", "eva@kund.example"]) == 0
    assert capsys.readouterr().out.startswith("new_case case 1")


def test_ingest_takes_the_sender_from_the_envelope_when_from_has_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mail = tmp_path / "mail.eml"
    mail.write_bytes(b"From: Eva\r\nSubject: Lampan\r\n\r\nLampan i trappan ar trasig.\r\n")
    assert main(["ingest", str(mail), "--sender", "eva@kund.example"]) == 0
    capsys.readouterr()
    assert main(["case", "show", "1", "--json"]) == 0
    shown = capsys.readouterr().out
    assert '"customer": "eva@kund.example"' in shown
    assert '"sender: envelope"' in shown


def test_sweep_runs_the_clock_as_of_a_time_and_sends_what_it_causes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = next(SAMPLES.glob("stopp-i-avlopp.eml"))
    assert main(["ingest", str(sample)]) == 0
    capsys.readouterr()
    assert main(["sweep", "--now", "2099-01-05T09:00:00+01:00"]) == 0
    out = capsys.readouterr().out
    assert "escalations 1" in out
    sent = list((tmp_path / "data" / "sent").glob("*.eml"))
    assert any(b"Auto-Submitted: auto-generated" in p.read_bytes() for p in sent)
    with pytest.raises(SystemExit) as usage:  # a time without a zone is refused
        main(["sweep", "--now", "2099-01-05T09:00"])
    assert usage.value.code == 2


def test_a_database_newer_than_this_version_is_refused_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["case", "list"]) == 0  # creates the database at the newest revision
    database = sqlite3.connect(tmp_path / "data" / "smartmail.db")
    with database:
        database.execute("UPDATE alembic_version SET version_num = '9999'")
    database.close()
    capsys.readouterr()
    assert main(["case", "list"]) == 78
    assert "schema revision 9999, newer than this smartmail knows" in capsys.readouterr().err
    sample = next(SAMPLES.glob("*.eml"))
    assert main(["ingest", str(sample)]) == 75  # the MTA keeps the mail and tries again
