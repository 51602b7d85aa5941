"""The invoicing basis through the real daemon: time and material logged by mail, then
`smartmail export time` and the monthly mail from `smartmail sweep --now` to the sink."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartmail.rules.load import load_rules
from tests.conftest import TEST_RULES, Sink
from tests.e2e.daemon import RunningDaemon
from tests.e2e.mailing import new_mail, reply, send

pytestmark = pytest.mark.e2e

EVA = "eva@kund.example"
ANNA = "anna@bostad.example"  # the manager
ROR = "jobb@rorab.example"  # the contractor
STOCKHOLM = ZoneInfo("Europe/Stockholm")
# A subject a spreadsheet would run as a formula, were it written into a cell as it is.
FORMULA = '=HYPERLINK("http://evil.example";"klick") stopp i avloppet'


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(TEST_RULES + "invoicing: {contractors: true}\n", encoding="utf-8")
    return path


def log_work(daemon: RunningDaemon, sink: Sink) -> str:
    """A tenant reports, the owner forwards to the contractor and logs time and material, the
    contractor logs theirs; returns the owner's address."""
    send(daemon.port, new_mail(EVA, FORMULA, "Det är stopp i avloppet i köket."))
    sink.wait_to(EVA, 1)
    owner = str(daemon.case(1)["assignee"])
    notice = sink.wait_to(owner, 1)[-1]
    work = "#forward jobb@rorab.example\n#time 1h30m felsökning\n#material vattenlås 2 st 249"
    send(daemon.port, reply(notice, owner, work))
    job = sink.wait_to(ROR, 1)[-1]
    send(daemon.port, reply(job, ROR, "#time 2h byte av rör\n#material rör 1 m 120 kr"))
    sink.wait_to(ROR, 2)  # the contractor's confirmation: all four entries are stored
    return owner


def cells(data: bytes, delimiter: str) -> list[dict[str, str]]:
    assert data.startswith("\ufeff".encode())  # UTF-8 with a byte-order mark
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def test_export_prints_the_basis_as_csv_and_json(daemon: RunningDaemon, sink: Sink) -> None:
    owner = log_work(daemon, sink)
    done = daemon.cli("export", "time")
    assert done.returncode == 0, done.stderr.decode()
    rows = cells(done.stdout, ";")
    assert [(r["logged_by"], r["kind"]) for r in rows] == [
        (owner, "time"),
        (owner, "material"),
        (ROR, "time"),
        (ROR, "material"),
    ]
    first, material = rows[0], rows[1]
    assert first["case"] == "1"
    assert first["subject"] == "'" + FORMULA  # runs nothing when opened
    assert (first["category"], first["group"]) == ("Skador i lägenheten", "Stopp i avlopp")
    assert first["customer"] == EVA
    assert (first["minutes"], first["hours"], first["text"]) == ("90", "1,50", "felsökning")
    assert date.fromisoformat(first["date"])  # an ISO date
    assert (material["material"], material["quantity"], material["unit"]) == (
        "vattenlås",
        "2",
        "st",
    )
    assert (material["unit_price"], material["amount"]) == ("249,00", "498,00")
    assert rows[3]["amount"] == "120,00"
    assert rows[3]["quantity"] == ""
    assert first["status"] == daemon.case(1)["status"]

    excel = daemon.cli("export", "time", "--dialect", "excel")
    assert [r["amount"] for r in cells(excel.stdout, ",")][1] == "498.00"

    theirs = daemon.cli("export", "time", "--contractor", ROR.upper(), "--format", "json")
    assert theirs.returncode == 0, theirs.stderr.decode()
    objects = json.loads(theirs.stdout)
    assert [(o["kind"], o["minutes"], o["amount"]) for o in objects] == [
        ("time", 120, 0.0),
        ("material", 0, 120.0),
    ]
    assert objects[0]["at"].endswith("+00:00")
    assert objects[0]["subject"] == FORMULA

    tomorrow = (datetime.now(STOCKHOLM) + timedelta(days=1)).date().isoformat()
    later = daemon.cli("export", "time", "--since", tomorrow, "--format", "json")
    assert json.loads(later.stdout) == []
    backwards = daemon.cli("export", "time", "--since", tomorrow, "--until", "2020-01-01")
    assert backwards.returncode == 64


def first_working_morning_after(moment: datetime, rules_path: Path) -> datetime:
    """Ten in the morning on the first working day of the month after `moment`."""
    calendar = load_rules(rules_path).calendar
    local = moment.astimezone(STOCKHOLM).date().replace(day=1)
    day = (local + timedelta(days=32)).replace(day=1)
    while day.weekday() >= 5 or calendar.is_holiday(day):
        day += timedelta(days=1)
    return datetime.combine(day, time(10), STOCKHOLM)


def sweeps(daemon: RunningDaemon, now: datetime, count: int) -> None:
    """`count` sweeps as of `now`, side by side."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "smartmail", "sweep", "--now", now.isoformat()],
            env=daemon.env,
            cwd=daemon.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(count)
    ]
    for process in processes:
        _out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()


def attached_rows(mail: EmailMessage) -> list[dict[str, str]]:
    (part,) = list(mail.iter_attachments())
    assert part.get_content_type() == "text/csv"
    return cells(part.get_payload(decode=True), ";")


def test_the_monthly_basis_goes_out_once(
    daemon: RunningDaemon, sink: Sink, rules_path: Path
) -> None:
    owner = log_work(daemon, sink)
    logged = datetime.fromisoformat(
        json.loads(daemon.cli("export", "time", "--format", "json").stdout)[0]["at"]
    )
    morning = first_working_morning_after(logged, rules_path)
    month = logged.astimezone(STOCKHOLM).strftime("%Y-%m")

    sweeps(daemon, morning, 2)  # two at the same moment
    sweeps(daemon, morning + timedelta(hours=2), 1)  # and a later one, as after a restart
    managers = sink.to(ANNA, "Fakturaunderlag")
    assert len(managers) == 1
    mail = managers[0]
    assert mail["Subject"].startswith(f"Fakturaunderlag {month}")
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Per utförare" in text
    assert "Rör AB" in text
    assert "Per kategori" in text
    assert "Skador i lägenheten / Stopp i avlopp" in text
    assert "3,50" in text  # hours in all: 1h30m and 2h
    assert len(attached_rows(mail)) == 4
    assert attached_rows(mail)[0]["date"].startswith(month)

    contractor = sink.to(ROR, "Fakturaunderlag")
    assert len(contractor) == 1
    assert {r["logged_by"] for r in attached_rows(contractor[0])} == {ROR}
    assert sink.to(owner, "Fakturaunderlag") == []  # staff get none
