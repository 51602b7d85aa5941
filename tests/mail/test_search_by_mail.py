"""`#search` (`#sök`) by mail: a staff member's question over SMTP to the listener, the
answer back over SMTP to the sink; and `case list` with the same filters, on the command."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlmodel import select

from smartmail.cli import main
from smartmail.mail.tokens import reply_address
from smartmail.store.db import insert_row, transaction
from smartmail.store.models import AccessLog, CaseLabel
from tests.mail.conftest import DESK, Desk, read

EVA = "eva@kund.example"
KALLE = "kalle@bostad.example"


def mail(sender: str, to: str, subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    msg.set_content(body)
    return msg.as_bytes()


def open_cases(desk: Desk) -> None:
    desk.send(mail(EVA, DESK, "Stopp i avloppet", "Det är stopp i avloppen i köket."), EVA)
    desk.send(
        mail("olle@annan.example", DESK, "Kallt", "Elementen är kalla."), "olle@annan.example"
    )
    desk.send(mail(EVA, DESK, "Avlopp igen", "Nu luktar det från avloppet."), EVA)
    with transaction(desk.app.engine) as session:
        insert_row(session, CaseLabel, {"case_id": 3, "label": "Storgatan5"})


def ask(desk: Desk, question: str) -> str:
    """Kalle asks from his own mail client, to the address our mail to him carries."""
    own = reply_address(DESK, 0, KALLE, desk.app.settings.secret)
    before = len(desk.sink.raw_to(KALLE))
    desk.send(mail(KALLE, own, "Sök", f"{question}\n"), KALLE)
    answers = desk.sink.raw_to(KALLE)[before:]
    assert len(answers) == 1
    return str(read(answers[-1]).get_content())


def test_search_by_mail_answers_with_the_newest_cases(desk: Desk) -> None:
    open_cases(desk)
    text = ask(desk, "#sök avlopp")
    lines = [line.strip() for line in text.splitlines()]
    assert "#sök avlopp: 2 ärenden" in lines
    found = [line.split() for line in lines if line[:2] in ("#1", "#2", "#3")]
    assert [words[0] for words in found] == ["#3", "#1"]
    _number, status, owner, customer, age, *subject = found[0]
    assert (status, owner, customer, age, subject) == (
        "tilldelad",
        "lisa@bostad.example",  # the team's least loaded member, Kalle has case 1
        EVA,
        "0m",
        ["Avlopp", "igen"],
    )
    assert "Olle" not in text
    assert "Kallt" not in text
    with transaction(desk.app.engine) as session:
        reads = session.exec(select(AccessLog).where(AccessLog.action == "#search")).all()
    assert sorted((r.actor, r.case_id, r.person) for r in reads) == [
        (KALLE, 1, EVA),
        (KALLE, 3, EVA),
    ]


def test_search_filters_by_mail_and_what_is_refused(desk: Desk) -> None:
    open_cases(desk)
    text = ask(desk, "#search avlopp label:storgatan5")
    assert "#3 " in text
    assert "#1 " not in text
    text = ask(desk, "#sök ägare:mig kund:@annan.example")
    assert "inget ärende stämmer" in text  # Olle's case went to the managers' team
    text = ask(desk, "#sök status:bråttom")
    assert "Inte utfört:" in text
    assert "okänd status 'bråttom'" in text


def test_customers_may_not_search(desk: Desk) -> None:
    open_cases(desk)
    own = reply_address(DESK, 1, EVA, desk.app.settings.secret)
    desk.send(mail(EVA, own, "Re: Stopp i avloppet", "#sök avlopp\n"), EVA)
    answer = str(read(desk.sink.raw_to(EVA)[-1]).get_content())
    assert "#sök avlopp: #search är inget kommando för kunder" in answer
    assert "Avlopp igen" not in answer


@pytest.fixture
def command_line(desk: Desk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Desk:
    settings = desk.app.settings
    monkeypatch.setenv("SMARTMAIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SMARTMAIL_RULES", str(settings.rules_path))
    monkeypatch.setenv("SMARTMAIL_SECRET", "test-secret")
    monkeypatch.chdir(tmp_path)
    return desk


def test_case_list_takes_the_same_filters(
    command_line: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    open_cases(command_line)
    capsys.readouterr()
    assert main(["case", "list", "--search", "avloppet", "--customer", "@kund.example"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["#1", "#3"]
    assert main(["case", "list", "--label", "STORGATAN5", "--status", "open"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["#3"]
    assert main(["case", "list", "--owner", "kalle", "--since", "2020-01-01", "--json"]) == 0
    assert '"number": 1' in capsys.readouterr().out
    assert main(["case", "list", "--status", "bråttom"]) == 64
    assert "unknown status 'bråttom'" in capsys.readouterr().err
    assert main(["case", "list", "--owner", "me"]) == 64
