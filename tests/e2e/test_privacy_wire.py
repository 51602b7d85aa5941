"""What a contractor and staff receive through the real SMTP channel: personal numbers
masked; each read of a case's content by mail (the job, a #case answer) in the access log."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.desk.office import (
    EVA,
    ROR,
    Office,
    office_fixture,  # noqa: F401  (fixture)
)
from tests.e2e.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
SECRETS = ("19800101-3294", "4711", "4111 1111 1111 1111", "SE45 5000 0000 0583 9825 7466")
TEXT = (
    "Stopp i avloppet. Personnummer 19800101-3294, portkod 4711. "
    "Betalade med kort 4111 1111 1111 1111, återbetala till SE45 5000 0000 0583 9825 7466. "
    "Ordernummer 19800101-3295 stämmer inte."
)


def test_the_contractor_and_the_owner_read_masked_numbers(office: Office) -> None:
    office.report(EVA, "Stopp i avloppet, portkod 4711", TEXT, T0)
    owner = office.json("case", "show", "1")["assignee"]
    notice = office.last_to(owner, subject="ärende 1")
    office.answer(notice, owner, "#vidarebefordra jobb@rorab.example\n#ärende 1", T0)
    job = office.last_to(ROR)
    confirmation = office.last_to(owner, subject="#")
    for mail in (notice, job, confirmation):
        text = str(mail["Subject"]) + mail.get_body().get_content()  # type: ignore[union-attr]
        assert [s for s in SECRETS if s in text] == [], mail["Subject"]
    job_text = job.get_body().get_content()  # type: ignore[union-attr]
    assert "19800101-****" in job_text
    assert "portkod ****" in job_text
    assert "**** **** **** 1111" in job_text
    assert "SE45 **** 7466" in job_text
    assert "19800101-3295" in job_text  # fails its checksum: no personal number
    reads = office.json("access-log", "--case", "1")
    assert [(r["actor"], r["action"], r["person"]) for r in reads[1:]] == [
        (owner, "#case", EVA),  # the questions of a mail are answered before it acts
        (ROR, "job", EVA),
    ]
    assert reads[0]["action"] == "case show"  # the test's own look at the case
