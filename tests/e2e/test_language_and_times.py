"""Through the SMTP listener and the `smartmail` command: what people read is in their
language and their time zone, and a #note however a phone typed it never leaves."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.conftest import Sink
from tests.e2e.daemon import RunningDaemon
from tests.e2e.mailing import new_mail, reply, send
from tests.e2e.test_steering import EVA, KALLE, STOCKHOLM, open_case
from tests.mail.test_phrases import foreign_words

pytestmark = pytest.mark.e2e

ZONE_MARKED = re.compile(r"\b20\d\d-\d\d-\d\d \d\d:\d\d CES?T\b")  # the rules: Europe/Stockholm


@pytest.mark.parametrize(
    "first",
    [
        "\u200b#note",
        "\ufeff#note",
        "\uff03note",
        "\uff03intern",
        "\u2060\uff03\uff4e\uff4f\uff54\uff45",
    ],
)
def test_a_note_typed_by_a_phone_stays_internal(
    daemon: RunningDaemon, sink: Sink, first: str
) -> None:
    notice = open_case(daemon, sink)
    send(daemon.port, reply(notice, KALLE, f"{first}\nHyresgästen verkar jobbig."))
    confirmation = sink.wait_to(KALLE, 2)[-1].get_content()
    assert "sparades som intern anteckning" in confirmation
    send(daemon.port, reply(notice, KALLE, "#status resolved"))
    sink.wait_to(KALLE, 3)
    mails = sink.wait_to(EVA, 2)  # the acknowledgement and the resolved notice, nothing else
    assert len(mails) == 2
    assert all("jobbig" not in m.get_content() for m in mails)
    note = next(m for m in daemon.case(1)["messages"] if "jobbig" in m["text"])
    assert note["visibility"] == "internal"


def test_a_look_alike_command_is_held_until_send(daemon: RunningDaemon, sink: Sink) -> None:
    notice = open_case(daemon, sink)
    send(daemon.port, reply(notice, KALLE, "\uff03 notera\nVi kommer i morgon kl 9."))
    held = sink.wait_to(KALLE, 2)[-1]
    assert "skickades INTE till kunden" in held.get_content()
    assert len(sink.to(EVA)) == 1  # only the acknowledgement
    send(daemon.port, reply(held, KALLE, "#sänd"))
    answer = sink.wait_to(EVA, 2)[-1]
    assert "Vi kommer i morgon kl 9." in answer.get_content()
    assert "[#1-" in answer["Subject"]


def test_a_resolving_answer_reaches_the_customer_as_one_mail(
    daemon: RunningDaemon, sink: Sink
) -> None:
    notice = open_case(daemon, sink)
    send(daemon.port, reply(notice, KALLE, "#status resolved\nVi har rensat stammen."))
    confirmation = sink.wait_to(KALLE, 2)[-1].get_content()
    assert "ärende 1: ny status: löst" in confirmation
    assert "ditt svar skickades till kunden" in confirmation
    answer = sink.wait_to(EVA, 2)[-1].get_content()
    assert answer.index("rensat stammen") < answer.index("som åtgärdat")
    assert daemon.case(1)["status"] == "resolved"
    assert len(sink.to(EVA)) == 2
    for mail in [*sink.to(EVA), *sink.to(KALLE)]:
        text = mail.get_content().replace("Stopp i avloppet", "")
        assert foreign_words(f"{mail['Subject']}\n{text}", "sv") == set()


def test_case_list_and_show_print_local_times_with_the_zone(
    daemon: RunningDaemon, sink: Sink
) -> None:
    send(daemon.port, new_mail(EVA, "Stopp i avloppet", "Det är stopp i avloppet i köket."))
    sink.wait_to(EVA, 1)
    data = daemon.case(1)
    created = datetime.fromisoformat(data["created_at"])
    assert created.utcoffset() is not None  # JSON: ISO 8601 with its offset, as before
    assert data["created_at"].endswith("+00:00")

    listing = daemon.cli("case", "list").stdout.decode()
    assert ZONE_MARKED.search(listing), listing
    shown = daemon.cli("case", "show", "1").stdout.decode()
    local = created.astimezone(STOCKHOLM)
    assert f"{local:%Y-%m-%d %H:%M %Z}" in shown
    assert "+00:00" not in shown
