"""Retention through `smartmail sweep --now` at dates past each limit: raw mail, attachment
files (a shared one with its last reference), closed cases, legal hold; the figures of old
periods unchanged by erasure. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from smartmail.app import App
from smartmail.clock import retention
from smartmail.clock.retention import BATCH
from smartmail.pipeline.envelope import Envelope
from smartmail.pipeline.quarantine import keep_failed
from smartmail.store.db import transaction
from smartmail.store.models import Quarantine, RawMail
from tests.desk.office import (
    EVA,
    OLLE,
    PDF,
    Office,
    office_fixture,  # noqa: F401  (fixture)
    with_attachment,
)
from tests.e2e.mailing import new_mail
from tests.e2e.postgres import pg_app, postgres_server, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

TZ = ZoneInfo("Europe/Stockholm")
ANNA = "anna@bostad.example"
PER = "per@kund.example"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=TZ)  # a Monday


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=TZ)


def file_of(office: Office, sha: str) -> bool:
    return (office.data / "attachments" / sha[:2] / sha).exists()


def test_each_kind_of_record_goes_after_its_time_and_the_figures_stay(office: Office) -> None:
    eva_mail = with_attachment(new_mail(EVA, "Trasig dörr", "Dörren till förrådet är trasig."))
    assert office.ingest(eva_mail, T0).startswith("new_case case 1")
    notice = office.last_to(ANNA, subject="ärende 1")
    office.answer(notice, ANNA, "#time 1h30m byte av lås\n#material lås 249", at(2026, 1, 5, 11))
    office.answer(office.last_to(EVA), EVA, "#close", at(2026, 1, 5, 12))
    assert office.report(PER, "Lampa i trapphuset", "Lampan är trasig.", T0) == 2
    office.answer(office.last_to(ANNA, subject="ärende 2"), ANNA, "#spara", at(2026, 1, 5, 13))
    office.answer(office.last_to(PER), PER, "#close", at(2026, 1, 5, 14))
    before = office.json("case", "show", "1")
    assert before["status"] == "closed"
    assert (before["time_minutes"], before["material_total"]) == (90, 249.0)
    period = ("--since", "2026-01-01T00:00:00+01:00", "--until", "2026-02-01T00:00:00+01:00")
    sha = office.rows("SELECT sha256 FROM attachment")[0][0]
    raws = office.rows(
        "SELECT raw_sha256 FROM message WHERE case_id = 1 AND direction = 'in' ORDER BY id"
    )

    # 90 days on: raw mail goes, its hash and size stay; the case on hold keeps its own
    assert "erased" in office.sweep(at(2026, 4, 6))
    for (raw_sha,) in raws:
        size, data, erased_at = office.rows(
            "SELECT size, data, erased_at FROM rawmail WHERE sha256 = :s", s=raw_sha
        )[0]
        assert size > 0
        assert bytes(data) == b""
        assert erased_at is not None
    held_raw = office.rows(
        "SELECT length(r.data) FROM rawmail r JOIN message m ON m.raw_sha256 = r.sha256"
        " WHERE m.case_id = 2"
    )
    assert all(n > 0 for (n,) in held_raw)
    assert office.json("case", "show", "1")["subject"] == "Trasig dörr"  # not yet

    # Olle sends the same file half a year later: it is his too
    office.ingest(with_attachment(new_mail(OLLE, "Kvitto", "Här är kvittot.")), at(2026, 7, 6))
    office.sweep(at(2027, 1, 6))  # Eva's attachment is past 12 months, Olle's is not
    assert office.rows("SELECT erased_at IS NOT NULL FROM attachment ORDER BY id") == [
        (True,),
        (False,),
    ]
    assert file_of(office, sha)
    office.sweep(at(2027, 7, 7))  # now Olle's too: the file goes with its last reference
    assert not file_of(office, sha)
    assert office.rows("SELECT sha256, size FROM attachment") == [(sha, len(PDF))] * 2

    # 24 months after closing: the case's content goes, the figures stay
    figures = office.json("stats", *period)
    office.sweep(at(2028, 1, 6))
    after = office.json("case", "show", "1")
    assert after["subject"] == "[erased]"
    assert {m["text"] for m in after["messages"]} == {"[erased]"}
    assert EVA not in str(after)
    assert "Trasig" not in str(after)
    assert "förrådet" not in str(after)
    assert (after["time_minutes"], after["material_total"]) == (90, 249.0)
    kept = [(e["kind"], e["at"]) for e in after["events"] if e["kind"] != "erased"]
    assert kept == [(e["kind"], e["at"]) for e in before["events"]]
    erased = [e for e in after["events"] if e["kind"] == "erased"]
    assert len(erased) == 1
    assert "24mo" in erased[0]["detail"]["why"]
    for key in ("number", "status", "priority", "category", "created_at", "closed_at"):
        assert after[key] == before[key]
    assert office.json("stats", *period) == figures
    assert office.rows("SELECT count(*) FROM party WHERE email = :e", e=EVA) == [(0,)]

    # the case on legal hold is kept whole, until #hold off
    assert office.json("case", "show", "2")["subject"] == "Lampa i trapphuset"
    hold_notice = office.last_to(ANNA, subject="ärende 2")
    office.answer(hold_notice, ANNA, "#spara av", at(2028, 1, 6, 11))
    office.sweep(at(2028, 1, 7))
    held = office.json("case", "show", "2")
    assert held["subject"] == "[erased]"
    assert [e["detail"].get("on") for e in held["events"] if e["kind"] == "hold"] == [True, False]


def test_reads_are_kept_for_the_access_logs_time(office: Office) -> None:
    office.report(EVA, "Stopp", "Stopp i avloppet.", T0)
    office.run("case", "show", "1", at=T0)
    office.run("case", "show", "1", at=at(2027, 6, 1))
    office.sweep(at(2028, 1, 6))  # 24 months after the first read, not the second
    assert [r["at"][:7] for r in office.json("access-log")] == ["2027-06"]


@pytest.mark.parametrize("engine", ["app", "pg_app"])
def test_quarantined_mail_goes_after_its_time_in_batches(
    request: pytest.FixtureRequest, engine: str
) -> None:
    app: App = request.getfixturevalue(engine)
    raws = [b"From: x@kund.example\r\n\r\nbroken %d\r\n" % n for n in range(BATCH * 2 + 5)]
    with transaction(app.engine) as session:
        for n, raw in enumerate(raws):
            envelope = Envelope("smtp", "x@kund.example", ("felanmalan@bostad.example",))
            sha = hashlib.sha256(raw).hexdigest()
            keep_failed(session, raw, sha, envelope, RuntimeError(f"bug {n}"), T0)
    assert retention.run(app, at(2026, 2, 3)).quarantine == 0  # 29 days: kept
    report = retention.run(app, at(2026, 2, 5))
    assert (report.quarantine, report.raw_mail) == (len(raws), 0)  # its bytes went with it
    with transaction(app.engine) as session:
        assert session.exec(select(Quarantine)).all() == []
        kept = session.exec(select(RawMail)).all()
    assert sorted((bytes(r.data), r.size) for r in kept) == sorted((b"", len(r)) for r in raws)
