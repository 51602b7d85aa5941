"""Finding cases by the words of their mail and by filters, on the embedded SQLite.

`assert_search_finds` is the scenario; tests/e2e/test_search_postgres.py runs it on
PostgreSQL's full-text search too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import select

from smartmail.app import App
from smartmail.desk import erasure, search
from smartmail.desk.search_filters import parse_filters
from smartmail.pipeline.envelope import Envelope
from smartmail.store import search as index
from smartmail.store.db import insert_row, transaction
from smartmail.store.models import Case, CaseLabel, Message

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
DESK = "felanmalan@bostad.example"
TZ = ZoneInfo("Europe/Stockholm")


def mail(sender: str, subject: str, body: str, answers: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, DESK, subject
    msg["Message-ID"] = make_msgid(domain="kund.example")
    if answers:
        msg["In-Reply-To"] = answers
    msg.set_content(body)
    return msg.as_bytes()


def numbers(app: App, query: str, me: str | None = "kalle@bostad.example") -> list[int]:
    with transaction(app.engine) as session:
        filters = parse_filters(query)
        owners = search.resolve_owners(filters, app.rules(), me)
        found = search.find(session, filters, owners, TZ)
        return [case.number for case in found.cases]


def open_cases(app: App) -> None:
    """Four cases over three days; labels and a type as the desk's commands would set them."""
    texts = [
        ("eva@kund.example", "Stopp i avloppet", "Det är stopp i avloppen i KÖKET."),
        ("olle@annan.example", "Kallt i lägenheten", "Elementen är kalla, och fönstret drar."),
        ("eva@kund.example", "Fråga om hyran", "När ska hyran för december vara betald?"),
        ("åsa@kund.example", "Avlopp igen", "Nu luktar det från avloppet i badrummet."),
    ]
    for day, (sender, subject, body) in enumerate(texts):
        app.pipeline.process(
            mail(sender, subject, body),
            Envelope("smtp", sender, (DESK,)),
            NOW + timedelta(days=day),
        )
    with transaction(app.engine) as session:
        for case_id, label in ((1, "Storgatan5"), (4, "Storgatan5"), (4, "akut")):
            insert_row(session, CaseLabel, {"case_id": case_id, "label": label})
        case = session.get(Case, 3)
        assert case is not None
        case.type, case.status = "fråga", "resolved"


def assert_search_finds(app: App) -> None:
    open_cases(app)
    assert numbers(app, "avloppet") == [4, 1]  # newest first
    assert numbers(app, "AVLOPP") == [4, 1]  # any case; "avloppen" stems to "avlopp"
    assert numbers(app, "köket") == [1]  # Swedish letters, whole words
    assert numbers(app, "avlop") == []  # not a part of a word
    assert numbers(app, "avlopp badrummet") == [4]  # every word, in any message
    assert numbers(app, "element") == [2]  # a stem: "elementen"
    assert numbers(app, "kallt fönstret") == [2]
    assert numbers(app, "status:open avlopp") == [4, 1]
    assert numbers(app, "status:closed") == [3]
    assert numbers(app, "status:resolved") == [3]
    assert numbers(app, "label:storgatan5") == [4, 1]  # a label in any case
    assert numbers(app, "label:Storgatan5 label:akut") == [4]  # every label
    assert numbers(app, "typ:Fråga") == [3]
    assert numbers(app, "customer:eva@kund.example") == [3, 1]
    assert numbers(app, "kund:@kund.example") == [4, 3, 1]
    assert numbers(app, "customer:annan.example") == [2]
    assert numbers(app, "owner:kalle") == numbers(app, "owner:kalle@bostad.example")
    assert numbers(app, "owner:me", me="anna@bostad.example") == [3, 2]
    assert numbers(app, "since:2026-11-24 until:2026-11-25") == [3, 2]
    assert numbers(app, "sedan:2026-11-26") == [4]
    assert numbers(app, "customer:x_y.example") == []  # "_" is no wildcard
    # PostgreSQL's swedish configuration drops stop words ("och"): they ask for nothing there
    stop_words_count = app.engine.dialect.name != "postgresql"
    assert numbers(app, "och avloppet") == ([] if stop_words_count else [4, 1])


def test_search_finds_by_words_and_filters(app: App) -> None:
    assert_search_finds(app)


def test_a_message_stored_later_is_found_and_machine_mail_is_not(app: App) -> None:
    open_cases(app)
    # The acknowledgements said "ärende" to every customer; nobody wrote it.
    assert numbers(app, "ärende") == []
    with transaction(app.engine) as session:
        first = session.exec(select(Message).where(Message.case_id == 2)).first()
        assert first is not None
    text = "Nu är det radiatorn som läcker."
    reply = mail("olle@annan.example", "Re: Kallt i lägenheten", text, first.message_id)
    app.pipeline.process(reply, Envelope("smtp", "olle@annan.example", (DESK,)), NOW)
    assert numbers(app, "radiatorn") == [2]


def test_more_than_fifty_say_how_many_more(app: App) -> None:
    for number in range(53):
        sender = f"hyresgast{number}@kund.example"
        app.pipeline.process(
            mail(sender, f"Trapphuset {number}", "Lampan i trapphuset är trasig."),
            Envelope("smtp", sender, (DESK,)),
            NOW,
        )
    with transaction(app.engine) as session:
        found = search.find(session, parse_filters("trapphuset"), (), TZ)
        lines = search.answer_lines(session, found, NOW + timedelta(days=2, hours=3))
        assert (len(found.cases), found.total, found.more) == (50, 53, 3)
        assert found.cases[0].number == 53
        rendered = [line.render("sv") for line in lines]
    assert rendered[0].startswith("#53 ")
    assert " 2d  Trapphuset 52" in rendered[0]
    assert rendered[-1] == "... och 3 till: lägg till ord eller filter för att begränsa sökningen"


def test_the_revision_indexes_the_mail_there_already_is(app: App) -> None:
    """What revision 0005 does to a database that holds mail: the index is made and filled
    (a downgrade to 0004 would go through later revisions that rebuild `case` on SQLite)."""
    open_cases(app)
    with app.engine.begin() as connection:
        index.drop(connection)
        tables = connection.execute(text("SELECT name FROM sqlite_master")).scalars().all()
        assert index.SQLITE_TABLE not in tables
        index.create(connection)
    assert numbers(app, "fönstret") == [2]
    assert numbers(app, "avlopp") == [4, 1]


def test_a_changed_message_is_not_found_by_its_old_words(app: App) -> None:
    open_cases(app)
    with transaction(app.engine) as session:
        session.execute(text("UPDATE message SET text = 'Bortredigerat.' WHERE case_id = 2"))
    assert numbers(app, "fönstret") == []
    assert numbers(app, "avlopp") == [4, 1]
    with transaction(app.engine) as session:
        index.reindex_case(session, 2)
    assert numbers(app, "bortredigerat") == [2]
    assert numbers(app, "kallt") == [2]  # the subject is still there
    assert numbers(app, "fönstret") == []


def test_a_person_erased_on_request_is_no_longer_found_by_their_words(app: App) -> None:
    open_cases(app)
    assert numbers(app, "elementen") == [2]
    with transaction(app.engine) as session:
        erasure.erase_person(session, "olle@annan.example", NOW, erasure.Unlinked())
    assert numbers(app, "elementen") == []
    assert numbers(app, "fönstret") == []
    assert numbers(app, "avlopp") == [4, 1]  # the others' cases are found as before
    with transaction(app.engine) as session:
        stems = session.execute(text("SELECT group_concat(words, ' ') FROM case_search")).one()
    assert "element" not in (stems[0] or "")
