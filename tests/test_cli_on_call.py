"""On call through the `smartmail` command: who is on call at --now, whom a mail would page,
and an SMS written by the default `log` provider under <data dir>/sms/."""

from __future__ import annotations

from pathlib import Path

import pytest
import time_machine

from smartmail.cli import main
from tests.rules.on_call_rules import LISA, ON_CALL_RULES

SATURDAY_NIGHT = "2026-12-05T22:40:00+01:00"
MAIL = (
    b"From: Eva <eva@kund.example>\r\nTo: felanmalan@bostad.example\r\n"
    b"Subject: Stopp i avloppet\r\n\r\nVattnet forsar ur avloppet i badrummet.\r\n"
)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(ON_CALL_RULES, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMARTMAIL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMARTMAIL_RULES", str(rules))
    monkeypatch.setenv("SMARTMAIL_SECRET", "cli-secret")
    monkeypatch.delenv("SMARTMAIL_SMS", raising=False)


def test_rules_check_says_who_is_on_call_then(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", "--now", SATURDAY_NIGHT]) == 0
    out = capsys.readouterr().out
    assert f"on call:     lisa@bostad.example ({LISA}), on duty now" in out
    assert "then:        kalle@bostad.example, if nobody takes a case" in out
    assert main(["rules", "check", "--now", "2026-12-07T10:00:00+01:00"]) == 0
    assert "kalle@bostad.example (+46701234567), off duty now" in capsys.readouterr().out


def test_rules_explain_says_whom_a_mail_would_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mail = tmp_path / "mail.eml"
    mail.write_bytes(MAIL)
    assert main(["rules", "explain", str(mail), "--now", SATURDAY_NIGHT]) == 0
    assert "paged:       lisa@bostad.example by SMS, as owner" in capsys.readouterr().out


def test_the_log_provider_writes_the_sms_to_the_data_dir(tmp_path: Path) -> None:
    mail = tmp_path / "mail.eml"
    mail.write_bytes(MAIL)
    with time_machine.travel(SATURDAY_NIGHT, tick=False):
        assert main(["ingest", str(mail)]) == 0
    assert main(["sweep", "--now", "2026-12-05T22:41:00+01:00"]) == 0
    [sms] = (tmp_path / "data" / "sms").iterdir()
    text = sms.read_text(encoding="utf-8")
    assert text.startswith(f"To: {LISA}\n\nÄrende 1 (akut): Skador i lägenheten / Stopp i avlopp.")
    assert "Vattnet forsar ur avloppet i badrummet." in text
    assert text.endswith("Svara OK 1 för att ta det.\n")
