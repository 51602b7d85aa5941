"""The desk's everyday habits through the real daemon: a case for a caller, labels and
types, watchers, routing by area and a contractor's jobs."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon
from tests.e2e.mailing import new_mail, reply, send
from tests.rules.test_habit_keys import HABITS

pytestmark = pytest.mark.e2e

EVA = "eva@kund.example"
KALLE = "kalle@bostad.example"
LISA = "lisa@bostad.example"
ROR = "jobb@rorab.example"


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(HABITS, encoding="utf-8")
    return path


def own_address_mail(daemon: RunningDaemon, sink: Sink, person: str) -> EmailMessage:
    """A mail about no case from us to `person`: its Reply-To is their own address. A
    mail with #customer to the plain address proves no one, and is answered with one."""
    told = len(sink.to(person))
    send(daemon.port, new_mail(person, "Samtal", "#kund eva@kund.example\nEva ringde."))
    warning = sink.wait_to(person, told + 1)[-1]
    assert "inte utfört" in warning["Subject"]
    assert "+0-" in str(warning["Reply-To"])
    return warning


def told(sink: Sink, person: str, words: str) -> str:
    """The text of the mail to `person` that says `words`, once it came."""
    for count in range(1, 10):
        texts = [m.get_content() for m in sink.wait_to(person, count)]
        found = [t for t in texts if words in t]
        if found:
            return found[-1]
    raise AssertionError(f"no mail to {person} says {words!r}")


def test_a_case_for_a_phone_call_and_a_visit(daemon: RunningDaemon, sink: Sink) -> None:
    warning = own_address_mail(daemon, sink, KALLE)
    assert daemon.cli("case", "list", "--json").stdout.strip() == b"[]"  # nothing opened
    send(
        daemon.port,
        reply(
            warning,
            KALLE,
            '#kund eva@kund.example "Eva Lind"\n#kanal telefon\n#etikett +storgatan5\n'
            "Eva ringde: det är stopp i avloppet i köket sedan i morse.",
        ),
    )
    ack = sink.wait_to(EVA, 1)[-1]
    assert "[#1-" in ack["Subject"]
    assert "Eva Lind" in ack.get_content()
    confirmation = told(sink, KALLE, "öppnat åt")
    assert "ärende 1 öppnat åt eva@kund.example (telefon); kunden fick en bekräftelse" in (
        confirmation
    )
    case = daemon.case(1)
    assert (case["channel"], case["customer"], case["customer_name"]) == (
        "phone",
        EVA,
        "Eva Lind",
    )
    assert case["group"] == "Stopp i avlopp"  # routed as if Eva had mailed it
    assert case["labels"] == ["rör/stam", "storgatan5", "vatten"]  # the group's, and Kalle's
    first = case["messages"][0]
    assert first["text"].startswith("Eva ringde")
    assert "#kund" not in first["text"]
    assert case["events"][0]["detail"]["channel"] == "phone"
    assert "Eva ringde" in told(sink, case["assignee"], "Ärende 1 har tilldelats dig")

    send(
        daemon.port,
        reply(warning, KALLE, "#kund ove@kund.example\n#kanal besök\n#tyst\nOve kom förbi."),
    )
    told(sink, KALLE, "ärende 2 öppnat åt ove@kund.example (besök); kunden fick ingen")
    assert sink.to("ove@kund.example") == []  # #quiet: no acknowledgement
    assert daemon.case(2)["channel"] == "visit"
    shown = daemon.cli("case", "show", "2").stdout.decode()
    assert "channel    visit" in shown
    stats = json.loads(daemon.cli("stats", "--json").stdout)
    assert stats["per_channel"] == {"mail": 0, "web": 0, "phone": 1, "visit": 1, "letter": 0}

    # A customer's #customer is no command of theirs; nor does it open anything.
    send(daemon.port, reply(ack, EVA, "#kund ove@kund.example\nÖppna ett ärende åt Ove"))
    sink.wait_to(EVA, 2)
    assert len(json.loads(daemon.cli("case", "list", "--json").stdout)) == 2


def test_labels_and_type(daemon: RunningDaemon, sink: Sink) -> None:
    send(daemon.port, new_mail(EVA, "Stopp i avloppet", "Det är stopp i köket."))
    sink.wait_to(EVA, 1)
    case = daemon.case(1)
    assert (case["type"], case["labels"]) == ("fel", ["rör/stam", "vatten"])
    notice = sink.wait_to(case["assignee"], 1)[-1]
    assert "Typ: fel" in notice.get_content()
    assert "Etiketter: rör/stam, vatten" in notice.get_content()
    owner = case["assignee"]
    send(
        daemon.port,
        reply(notice, owner, "#etikett +Storgatan5 -vatten -akut\n#typ Fråga\n#ärende 1"),
    )
    text = sink.wait_to(owner, 2)[-1].get_content()
    assert "etiketter: rör/stam, storgatan5" in text
    assert "typ fråga" in text
    assert "kanal mejl, typ fel, etiketter rör/stam, vatten" in text  # #ärende: as it was
    listed = json.loads(daemon.cli("case", "list", "--json").stdout)[0]
    assert (listed["type"], listed["labels"]) == ("fråga", ["rör/stam", "storgatan5"])
    kinds = [e["kind"] for e in daemon.case(1)["events"]]
    assert {"labels", "type"} <= set(kinds)
    send(daemon.port, reply(notice, owner, "#typ okänd\n#etikett +a<b"))
    text = sink.wait_to(owner, 3)[-1].get_content()
    assert "okänd typ; reglerna har: fel, fråga, beställning" in text
    assert "duger inte som etikett" in text
    assert daemon.case(1)["type"] == "fråga"


def test_watchers_get_copies_and_may_steer(daemon: RunningDaemon, sink: Sink) -> None:
    send(daemon.port, new_mail(EVA, "Stopp i avloppet", "Det är stopp i köket."))
    ack = sink.wait_to(EVA, 1)[-1]
    notice = sink.wait_to(KALLE, 1)[-1]  # the fallback team's least loaded: Kalle
    send(daemon.port, reply(notice, KALLE, "#bevaka lisa@bostad.example"))
    sink.wait_to(KALLE, 2)
    assert daemon.case(1)["watchers"] == [LISA]

    send(daemon.port, reply(ack, EVA, "Det rinner över nu!"))
    copy = sink.wait_to(LISA, 1)[-1]
    assert "Det rinner över nu!" in copy.get_content()
    assert str(copy["Reply-To"]).startswith("felanmalan+1-")
    sink.wait_to(KALLE, 3)  # the owner hears as before

    send(daemon.port, reply(copy, LISA, "#status feedback\nVi kommer i morgon kl 8."))
    answer = sink.wait_to(EVA, 2)[-1]
    assert "Vi kommer i morgon" in answer.get_content()
    assert daemon.case(1)["status"] == "feedback"  # a watcher's command counts
    owner_copy = sink.wait_to(KALLE, 4)[-1]
    assert "Lisa Berg svarade kunden i ärende 1" in owner_copy.get_content()
    assert not any("svarade kunden" in m.get_content() for m in sink.to(LISA))  # not her own

    send(daemon.port, reply(notice, KALLE, "#tilldela lisa@bostad.example"))
    sink.wait_to(KALLE, 5)
    case = daemon.case(1)
    assert case["assignee"] == LISA
    assert KALLE in case["watchers"]  # the old owner keeps following
    send(daemon.port, reply(notice, KALLE, "#avbevaka"))
    sink.wait_to(KALLE, 6)
    assert KALLE not in daemon.case(1)["watchers"]
    assert {"watching", "unwatched"} <= {e["kind"] for e in daemon.case(1)["events"]}


def test_routing_by_area_and_a_contractor_s_jobs(daemon: RunningDaemon, sink: Sink) -> None:
    send(daemon.port, new_mail(EVA, "Stopp i avloppet", "Stopp i köket.\n\nEva, Storgatan 5"))
    sink.wait_to(EVA, 1)
    assert daemon.case(1)["assignee"] == LISA
    assert "area Storgatan" in daemon.case(1)["route_reason"]
    send(daemon.port, new_mail(EVA, "Stopp igen", "Nu är det stopp i badet."))
    sink.wait_to(EVA, 2)
    assert daemon.case(2)["assignee"] == LISA  # her street, from her earlier mail
    assert "(customer: storgatan)" in daemon.case(2)["route_reason"]
    send(daemon.port, new_mail("ove@kund.example", "Stopp", "Stopp i avloppet."))
    sink.wait_to("ove@kund.example", 1)
    assert daemon.case(3)["assignee"] == KALLE  # no area word: the fallback team

    notice = sink.wait_to(LISA, 1, subject="Nytt ärende 1 ")[0]
    send(daemon.port, reply(notice, LISA, "#vidarebefordra jobb@rorab.example"))
    job = sink.wait_to(ROR, 1)[-1]
    send(daemon.port, reply(job, ROR, "#mina"))
    mine = sink.wait_to(ROR, 2)[-1].get_content()
    assert "#1 " in mine
    assert "#2 " not in mine
    send(daemon.port, reply(job, ROR, "#status löst"))
    sink.wait_to(ROR, 3)
    send(daemon.port, reply(job, ROR, "#mina"))  # questions are answered before changes
    assert "inga öppna ärenden" in sink.wait_to(ROR, 4)[-1].get_content()
