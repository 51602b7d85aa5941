"""Steering cases by mail through the real daemon: commands, notes, forgeries, contractors."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon
from tests.e2e.mailing import new_mail, reply, send

pytestmark = pytest.mark.e2e

EVA = "eva@kund.example"
KALLE = "kalle@bostad.example"
LISA = "lisa@bostad.example"
ROR = "jobb@rorab.example"
STOCKHOLM = ZoneInfo("Europe/Stockholm")  # the test rules' time zone


def open_case(daemon: RunningDaemon, sink: Sink, subject: str = "Stopp i avloppet") -> EmailMessage:
    """A customer reports; returns the notice its owner received."""
    number = len(sink.to(EVA)) + 1  # one acknowledgement per case so far
    send(daemon.port, new_mail(EVA, subject, "Det är stopp i avloppet i köket."))
    sink.wait_to(EVA, number)
    owner = daemon.case(number)["assignee"]
    return next(m for m in sink.wait_to(owner, 1) if f"ärende {number} " in m["Subject"])


def kinds(case: dict[str, object]) -> list[str]:
    return [e["kind"] for e in case["events"]]  # type: ignore[index, union-attr]


def test_staff_steer_a_case_and_answer_the_customer(daemon: RunningDaemon, sink: Sink) -> None:
    notice = open_case(daemon, sink)
    assert "#tilldela" in notice.get_content()  # the owner is told what they may write
    send(
        daemon.port,
        reply(
            notice,
            KALLE,
            "#status feedback\n#priority normal\n#time 45m inspektion\n"
            "#material vattenlås 249\nHej Eva! Kan du skicka en bild på vattenlåset?",
        ),
    )
    confirmation = sink.wait_to(KALLE, 2)[-1]
    text = confirmation.get_content()
    assert "ny status: återkoppling" in text  # Kalle reads Swedish
    assert "prioritet normal" in text
    answer = sink.wait_to(EVA, 2)[-1]  # after the acknowledgement
    assert "Kan du skicka en bild" in answer.get_content()
    assert "#status" not in answer.get_content()
    assert "Den 23 nov" not in answer.get_content()  # not our internal history
    assert "[#1-" in answer["Subject"]
    assert answer["Auto-Submitted"] is None
    case = daemon.case(1)
    assert (case["status"], case["priority"]) == ("feedback", "normal")
    assert case["time_minutes"] == 45
    assert case["material_total"] == 249.0
    assert case["first_response_at"] is not None
    assert {"status", "priority", "time", "material", "first_response"} <= set(kinds(case))

    send(daemon.port, reply(confirmation, KALLE, "#assign lisa@bostad.example"))
    assigned = sink.wait_to(LISA, 1)[-1]
    assert "Ärende 1" in assigned["Subject"]
    # A date that is still ahead whenever the test runs: a past one is refused.
    due = datetime.combine(date.today() + timedelta(days=40), time(12, 0), STOCKHOLM)
    send(daemon.port, reply(assigned, LISA, f"#due {due:%Y-%m-%d %H:%M}\n#close"))
    sink.wait_to(LISA, 2)
    case = daemon.case(1)
    assert case["assignee"] == LISA
    assert case["status"] == "closed"
    assert case["due_at"].startswith(f"{due.astimezone(UTC):%Y-%m-%dT%H:%M}")
    send(daemon.port, reply(sink.to(LISA)[-1], LISA, "#reopen"))
    sink.wait_to(LISA, 3)
    assert daemon.case(1)["status"] == "assigned"


def test_an_internal_note_never_reaches_the_customer(daemon: RunningDaemon, sink: Sink) -> None:
    notice = open_case(daemon, sink)
    send(
        daemon.port, reply(notice, KALLE, "#note\nHyresgästen har haft stopp förut, kolla stammen.")
    )
    sink.wait_to(KALLE, 2)  # the confirmation
    send(daemon.port, reply(notice, KALLE, "#status resolved"))
    sink.wait_to(KALLE, 3)
    for mail in sink.wait_to(EVA, 2):  # acknowledgement and the resolved notice
        assert "kolla stammen" not in mail.get_content()
    note = next(m for m in daemon.case(1)["messages"] if "kolla stammen" in m["text"])
    assert note["visibility"] == "internal"


def test_a_forged_staff_mail_changes_nothing(daemon: RunningDaemon, sink: Sink) -> None:
    notice = open_case(daemon, sink)
    forged = new_mail(KALLE, "Re: " + str(notice["Subject"]), "#close\nAllt klart!")
    send(daemon.port, forged)  # to the plain function address: no reply address of ours
    warning = sink.wait_to(KALLE, 2)[-1]
    assert "inte utfört" in warning["Subject"]
    case = daemon.case(1)
    assert case["status"] == "assigned"
    assert "unproven_mail" in kinds(case)
    assert len(sink.to(EVA)) == 1  # "Allt klart!" was not relayed
    # Kalle's reply address in a mail from Lisa proves nothing about Lisa.
    send(daemon.port, reply(notice, LISA, "#close"))
    assert "inte utfört" in sink.wait_to(LISA, 1)[-1]["Subject"]
    assert daemon.case(1)["status"] == "assigned"


def test_contractors_work_on_forwarded_cases_only(daemon: RunningDaemon, sink: Sink) -> None:
    notice = open_case(daemon, sink)
    send(daemon.port, reply(notice, KALLE, "#forward jobb@rorab.example"))
    job = sink.wait_to(ROR, 1)[-1]
    assert "Det är stopp i avloppet" in job.get_content()
    send(
        daemon.port,
        reply(
            job,
            ROR,
            "#time 2h\n#material rensning 450\n#assign me\n#status closed\n"
            "Rensat stammen, fungerar nu.",
        ),
    )
    answer = sink.wait_to(ROR, 2)[-1].get_content()
    assert "#assign me: #assign är inget kommando för entreprenörer" in answer
    assert "kan bara sätta #status löst" in answer
    update = sink.wait_to(KALLE, 3)[-1]  # confirmation of #forward, then the owner is told
    assert "Rensat stammen" in update.get_content()
    case = daemon.case(1)
    assert (case["time_minutes"], case["material_total"], case["status"]) == (
        120,
        450.0,
        "assigned",
    )
    assert all(m["visibility"] == "internal" for m in case["messages"] if m["from"] == ROR)

    open_case(daemon, sink, "Droppande kran")
    send(daemon.port, reply(job, ROR, "#cases 2\n#time 1h"))
    refused = sink.wait_to(ROR, 3)[-1].get_content()
    assert "ärende 2: #time 1h: ärendet är inte skickat till er" in refused


def test_queries_and_bulk_changes(daemon: RunningDaemon, sink: Sink) -> None:
    notice = open_case(daemon, sink)
    open_case(daemon, sink, "Stopp i handfatet")  # least loaded: Lisa's
    send(
        daemon.port, reply(notice, KALLE, "#cases 1 2\n#status confirmed\n#priority normal\n#mine")
    )
    text = sink.wait_to(KALLE, 2)[-1].get_content()
    assert "ärende 1: ny status: bekräftad" in text
    assert "ärende 2: ny status: bekräftad" in text
    assert "#mina" in text
    assert "#1 " in text
    assert daemon.case(2)["priority"] == "normal"
    send(daemon.port, reply(notice, KALLE, "#case 1\n#new\n#frobnicate"))
    text = sink.wait_to(KALLE, 3)[-1].get_content()
    assert "okänt kommando #frobnicate" in text
    assert "#tilldela <person|team|mig>" in text  # what is allowed
    assert "#ärende 1" in text
