"""The link in the acknowledgement: the case as its customer sees it, a reply added there,
and nothing at all for a guessed, altered or withdrawn link."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from email import message_from_bytes, policy

from sqlmodel import col, select

from smartmail.app import App
from smartmail.desk.views import case_detail
from smartmail.mail.links import follow_token
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Case, utcnow
from tests.web.conftest import GOOD, Browserless, WebServer, jpeg

LINK = re.compile(r"http://felanmalan\.bostad\.example(/case/[0-9a-z-]+)")


def detail(app: App, number: int) -> dict:
    with transaction(app.engine) as session:
        case = session.get(Case, number)
        assert case is not None
        return case_detail(session, case)


def link_in_ack(app: App, to: str = "eva@kund.example") -> str:
    app.deliver(utcnow())
    for _, rcpt, body in app.transport.sent:  # type: ignore[attr-defined]
        mail = message_from_bytes(body, policy=policy.default)
        if rcpt == [to] and "tagit emot" in str(mail["Subject"]):
            found = LINK.search(mail.get_body(("plain",)).get_content())
            assert found, mail
            return found.group(1)
    raise AssertionError(f"no acknowledgement to {to}")


def mail_case(app: App, sender: str = "eva@kund.example") -> int:
    raw = (
        f"From: Eva <{sender}>\r\nTo: felanmalan@bostad.example\r\n"
        "Subject: Lampan i hallen\r\nMessage-ID: <lampa@kund.example>\r\n\r\n"
        "Lampan i hallen blinkar.\r\n"
    ).encode()
    outcome = app.pipeline.process(raw, Envelope("smtp", sender))
    assert outcome.case_number
    return outcome.case_number


def staff_note(app: App, number: int, text: str) -> None:
    """Kalle writes an internal note on the case, as staff do: answering our notice."""
    from smartmail.mail.tokens import reply_address

    to = reply_address("felanmalan@bostad.example", number, "kalle@bostad.example", b"test-secret")
    raw = (
        f"From: kalle@bostad.example\r\nTo: {to}\r\nSubject: Re: x\r\n"
        f"Message-ID: <note{number}@bostad.example>\r\n\r\n#note\r\n{text}\r\n"
    ).encode()
    app.pipeline.process(raw, Envelope("smtp", "kalle@bostad.example", (to,)))


def test_a_mailed_case_gets_the_link_too_and_it_shows_the_public_mail_only(
    web_app: App, visitor: Browserless
) -> None:
    number = mail_case(web_app)
    staff_note(web_app, number, "Hemligt: nyckeln ligger under mattan.")
    path = link_in_ack(web_app)
    page = visitor.get(path + "?lang=en")
    assert page.status_code == 200
    assert f"Case {number}" in page.text
    assert "Lampan i hallen blinkar." in page.text  # the customer's own mail
    assert "We have registered it as case number" not in page.text  # acks are in Swedish
    assert "Vi har registrerat det som ärende nummer" in page.text  # what we sent them
    assert "nyckeln" not in page.text  # never an internal note
    assert "Expected to be done by" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"


def test_a_guessed_or_altered_link_shows_nothing_and_says_so(
    web_app: App, visitor: Browserless
) -> None:
    number = mail_case(web_app)
    path = link_in_ack(web_app)
    other = mail_case_of_someone_else(web_app)
    token = path.rsplit("/", 1)[1]
    wrong = [
        token[:-1] + ("a" if token[-1] != "a" else "b"),  # altered signature
        token.replace(f"{number}-", f"{other}-", 1),  # another case, the same signature
        follow_token(number, "mallory@evil.example", utcnow(), b"test-secret"),  # not theirs
        follow_token(number, "eva@kund.example", utcnow(), b"guessed-secret"),
        "1",
        "%2e%2e%2fsecret",
    ]
    for bad in wrong:
        page = visitor.get(f"/case/{bad}?lang=en")
        assert page.status_code == 404, bad
        assert "This link does not work" in page.text
        assert "Lampan" not in page.text


def mail_case_of_someone_else(app: App) -> int:
    raw = (
        b"From: olle@kund.example\r\nTo: felanmalan@bostad.example\r\n"
        b"Subject: Hissen\r\nMessage-ID: <hiss@kund.example>\r\n\r\nHissen stannar.\r\n"
    )
    outcome = app.pipeline.process(raw, Envelope("smtp", "olle@kund.example"))
    assert outcome.case_number
    return outcome.case_number


def test_a_message_and_a_photo_added_on_the_page_land_as_the_customers_reply(
    web_app: App, visitor: Browserless
) -> None:
    assert visitor.post(GOOD).status_code == 200
    path = link_in_ack(web_app)
    page = visitor.post(
        {"message": "Nu droppar det mer.\nSe bilden."},
        [("a.jpg", jpeg(colour="blue"), "image/jpeg")],
        path=path + "?lang=en",
    )
    assert page.status_code == 200, page.text
    assert "Your message was added to the case." in page.text
    assert "Nu droppar det mer." in page.text
    case = detail(web_app, 1)
    [reply] = [m for m in case["messages"] if m["direction"] == "in" and m["channel"] == "web"][1:]
    assert reply["direction"] == "in"
    assert reply["from"] == "eva@kund.example"
    assert reply["channel"] == "web"
    assert reply["visibility"] == "public"
    assert reply["thread_signal"].startswith("reply_address")
    assert reply["attachments"][0]["filename"] == "photo-1.jpg"
    assert len(detail_all(web_app)) == 1  # no new case
    # the owner hears of it, as of a mailed reply
    web_app.deliver(utcnow())
    assert any(
        "kalle@bostad.example" in rcpt[0] and b"Nu droppar det mer" in body
        for _, rcpt, body in web_app.transport.sent  # type: ignore[attr-defined]
    )
    empty = visitor.post({"message": " "}, path=path + "?lang=en")
    assert empty.status_code == 400
    assert "Write a message or add a file." in empty.text
    forged = visitor.post({"message": "x"}, path=path + "?lang=en", token="nope")
    assert forged.status_code == 403


def detail_all(app: App) -> list[Case]:
    with transaction(app.engine) as session:
        return list(session.exec(select(Case).order_by(col(Case.id))).all())


def test_staff_revoke_the_links_of_a_case(web_app: App, visitor: Browserless) -> None:
    from smartmail.mail.tokens import reply_address

    number = mail_case(web_app)
    path = link_in_ack(web_app)
    assert visitor.get(path).status_code == 200
    to = reply_address("felanmalan@bostad.example", number, "kalle@bostad.example", b"test-secret")
    raw = (
        f"From: kalle@bostad.example\r\nTo: {to}\r\nSubject: Re: x\r\n"
        "Message-ID: <revoke@bostad.example>\r\n\r\n#återkalla-länk\r\n"
    ).encode()
    web_app.pipeline.process(raw, Envelope("smtp", "kalle@bostad.example", (to,)))
    assert visitor.get(path).status_code == 404
    assert visitor.post({"message": "hej"}, path=path, token="x").status_code == 404
    case = detail(web_app, number)
    assert [e["actor"] for e in case["events"] if e["kind"] == "link_revoked"] == [
        "kalle@bostad.example"
    ]
    # A link made after that opens the case again.
    later = follow_token(
        number, "eva@kund.example", utcnow() + timedelta(seconds=2), b"test-secret"
    )
    assert visitor.get(f"/case/{later}").status_code == 200


def test_a_customer_may_not_revoke(web_app: App) -> None:
    from smartmail.mail.tokens import reply_address

    number = mail_case(web_app)
    to = reply_address("felanmalan@bostad.example", number, "eva@kund.example", b"test-secret")
    raw = (
        f"From: eva@kund.example\r\nTo: {to}\r\nSubject: Re: x\r\n"
        "Message-ID: <eva-revoke@kund.example>\r\n\r\n#revoke-link\r\n"
    ).encode()
    web_app.pipeline.process(raw, Envelope("smtp", "eva@kund.example", (to,)))
    assert not [e for e in detail(web_app, number)["events"] if e["kind"] == "link_revoked"]


def test_no_link_without_a_web_url(app: App) -> None:
    number = mail_case(app)
    app.deliver(utcnow())
    assert number == 1
    assert not any(b"/case/" in body for _, _, body in app.transport.sent)  # type: ignore[attr-defined]


def test_a_closed_case_gets_a_follow_up_from_the_page(web_app: App, served: WebServer) -> None:
    from smartmail.mail.tokens import reply_address

    visitor = Browserless(served)
    number = mail_case(web_app)
    path = link_in_ack(web_app)
    to = reply_address("felanmalan@bostad.example", number, "kalle@bostad.example", b"test-secret")
    raw = (
        f"From: kalle@bostad.example\r\nTo: {to}\r\nSubject: Re: x\r\n"
        "Message-ID: <close@bostad.example>\r\n\r\n#close\r\n"
    ).encode()
    web_app.pipeline.process(raw, Envelope("smtp", "kalle@bostad.example", (to,)))
    page = visitor.post({"message": "Lampan blinkar igen."}, path=path + "?lang=en")
    assert page.status_code == 200
    assert "your message opened a new case, number 2" in page.text
    assert detail(web_app, 2)["channel"] == "web"


def test_the_page_shows_while_a_mail_is_being_stored(web_app: App, visitor: Browserless) -> None:
    """Reading the case takes no write lock: a writer holding it (a mail in its
    transaction) does not hold up the page, and the page does not hold up the mail."""
    mail_case(web_app)
    path = link_in_ack(web_app)
    database = web_app.engine.url.database
    assert database
    writer = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        page = visitor.get(path + "?lang=en")
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert page.status_code == 200
    assert "Lampan i hallen blinkar." in page.text
