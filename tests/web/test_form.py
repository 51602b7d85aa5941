"""The fault-report page through a real HTTP client: what a post becomes, and what it may not."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes, policy
from select import select as readable

import time_machine
from sqlmodel import col, select

from smartmail.app import App
from smartmail.desk.views import case_detail
from smartmail.store.db import transaction
from smartmail.store.models import Case, Message, RawMail, utcnow
from tests.web.conftest import GOOD, Browserless, WebServer, jpeg, refuse_to_store


def cases(app: App) -> list[dict]:
    with transaction(app.engine) as session:
        return [
            case_detail(session, c) for c in session.exec(select(Case).order_by(col(Case.id))).all()
        ]


def sent(app: App) -> list:
    app.deliver(utcnow())
    return [message_from_bytes(body, policy=policy.default) for _, _, body in app.transport.sent]  # type: ignore[attr-defined]


def test_the_page_has_the_fields_scripts_rely_on_and_the_security_headers(
    visitor: Browserless,
) -> None:
    page = visitor.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,sv;q=0.5"})
    assert page.status_code == 200
    for name in ("name", "email", "phone", "address", "category", "description", "photos"):
        assert f'name="{name}"' in page.text
        assert f'<label for="{name}"' in page.text  # every field has its label
    assert '<html lang="en">' in page.text
    assert "Report a fault" in page.text
    # Only the categories marked form: true, and "other".
    assert '<option value="Skador i lägenheten">' in page.text
    assert '<option value="other" selected>Other</option>' in page.text
    assert "Övrigt" not in page.text
    assert "<script" not in page.text
    headers = page.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp
    assert "default-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


def test_swedish_by_the_browser_and_a_switch(visitor: Browserless) -> None:
    swedish = visitor.get("/", headers={"Accept-Language": "sv-SE,sv;q=0.9,en;q=0.8"})
    assert '<html lang="sv">' in swedish.text
    assert "Felanmälan" in swedish.text
    assert 'href="/?lang=en"' in swedish.text
    english = visitor.get("/?lang=en", headers={"Accept-Language": "sv"})
    assert '<html lang="en">' in english.text
    assert 'href="/?lang=sv"' in english.text


def test_a_post_is_a_case_with_channel_web_routed_in_the_chosen_category(
    web_app: App, visitor: Browserless
) -> None:
    photo = jpeg()
    page = visitor.post(GOOD, [("IMG_0001.HEIC.jpg", photo, "image/jpeg")], path="/?lang=en")
    assert page.status_code == 200, page.text
    assert "Your case number is 1." in page.text
    assert "eva@kund.example" in page.text
    [case] = cases(web_app)
    assert case["channel"] == "web"
    assert (case["category"], case["group"]) == ("Skador i lägenheten", "Stopp i avlopp")
    assert "chosen on the fault-report page" in case["route_reason"]
    assert case["customer"] == "eva@kund.example"
    assert case["customer_name"] == "Eva Svensson"
    [message] = case["messages"][:1]
    assert message["channel"] == "web"
    assert "Det droppar från kranen" in message["text"]
    assert "Lägenhet" not in message["text"]
    assert "Storgatan 1, lgh 1203" in message["text"]
    assert message["attachments"] == [
        {"filename": "photo-1.jpg", "content_type": "image/jpeg", "size": len(photo)}
    ]
    with transaction(web_app.engine) as session:
        raw = session.exec(select(RawMail)).one().data
    kept = message_from_bytes(raw, policy=policy.default)
    assert kept["X-Smartmail-Channel"] == "web"
    assert kept["From"].addresses[0].addr_spec == "eva@kund.example"
    assert kept["To"] == "felanmalan@bostad.example"
    # The acknowledgement, to the tenant, with the link to follow the case.
    ack = [m for m in sent(web_app) if "eva@kund.example" in str(m["To"])]
    assert len(ack) == 1
    body = ack[0].get_body(("plain",)).get_content()
    assert re.search(r"http://felanmalan\.bostad\.example/case/1-[0-9a-z]+-[a-z2-7]{20}\r?\n", body)
    # and the owner's notice
    assert any("kalle@bostad.example" in str(m["To"]) for m in sent(web_app))


def test_other_routes_by_the_words_as_mail_does(web_app: App, visitor: Browserless) -> None:
    fields = {**GOOD, "category": "other", "description": "Stopp i avloppet i köket."}
    assert visitor.post(fields).status_code == 200
    fields = {**GOOD, "category": "other", "description": "Lampan i trappan är trasig."}
    assert visitor.post(fields).status_code == 200
    first, second = cases(web_app)
    assert first["group"] == "Stopp i avlopp"
    assert second["category"] == "Övrigt"


def test_every_field_error_is_said_at_its_field_and_nothing_is_stored(
    web_app: App, visitor: Browserless
) -> None:
    page = visitor.post(
        {"name": "", "email": "", "address": " ", "description": "\n", "category": "other"},
        path="/?lang=en",
    )
    assert page.status_code == 400
    for name in ("name", "email", "address", "description"):
        assert f'<p class="error" id="{name}-error">This must be filled in.</p>' in page.text
        assert f'<a href="#{name}">' in page.text  # listed at the top, linked to the field
    assert 'value="" aria-describedby="name-error" aria-invalid="true"' in page.text
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in page.text

    wrong = {
        **GOOD,
        "email": "eva@@kund",
        "phone": "ring mig",
        "category": "Hyresfrågor",
        "name": "x" * 201,
    }
    page = visitor.post(wrong, path="/?lang=en")
    assert page.status_code == 400
    assert "Write an e-mail address such as name@example.com." in page.text
    assert "Write the phone number with digits" in page.text
    assert "Choose one of the categories in the list." in page.text
    assert "This is too long." in page.text
    assert "Det droppar från kranen" in page.text  # what was written stays
    page = visitor.post({**GOOD, "email": "felanmalan+7@bostad.example"}, path="/?lang=en")
    assert "Write your own e-mail address." in page.text
    assert cases(web_app) == []


def test_a_post_without_the_token_or_cookie_is_refused(web_app: App, served: WebServer) -> None:
    visitor = Browserless(served)
    assert visitor.post(GOOD, token="").status_code == 403
    token = visitor.token()
    assert visitor.post(GOOD, token=token[:-2] + "xx").status_code == 403  # altered
    stranger = Browserless(served)  # a token of another browser: its cookie does not match
    assert stranger.post(GOOD, token=token).status_code == 403
    assert cases(web_app) == []


def test_a_form_left_open_too_long_has_expired(web_app: App, visitor: Browserless) -> None:
    with time_machine.travel(utcnow(), tick=True) as traveller:
        token = visitor.token()
        traveller.shift(2 * 3600 + 5)
        page = visitor.post(GOOD, token=token, path="/?lang=en")
    assert page.status_code == 403
    assert "The form has expired" in page.text
    assert cases(web_app) == []


def test_the_honeypot_and_a_form_sent_back_at_once_store_nothing(
    web_app: App, visitor: Browserless, web_rules
) -> None:
    assert visitor.post({**GOOD, "website": "http://spam.example"}).status_code == 400
    web_rules.write_text(
        web_rules.read_text().replace("min_fill_seconds: 0", "min_fill_seconds: 3")
    )
    web_app.rules.reload(force=True)
    with time_machine.travel(utcnow(), tick=True) as traveller:
        token = visitor.token()
        fast = visitor.post(GOOD, token=token, path="/?lang=en")  # at once: a bot's pace
        assert fast.status_code == 400
        assert "Please check what you wrote and send it again." in fast.text
        assert "Det droppar från kranen" in fast.text
        traveller.shift(4)
        assert visitor.post(GOOD, token=token).status_code == 200  # a person's pace
    assert len(cases(web_app)) == 1


def test_rate_limits_per_client_and_per_email(
    web_app: App, visitor: Browserless, web_rules
) -> None:
    web_rules.write_text(
        web_rules.read_text()
        .replace("per_client: {posts: 30, within: 1h}", "per_client: {posts: 4, within: 1h}")
        .replace("per_email: {posts: 10, within: 1h}", "per_email: {posts: 2, within: 1h}")
    )
    web_app.rules.reload(force=True)
    assert visitor.post(GOOD).status_code == 200
    assert visitor.post(GOOD).status_code == 200
    third = visitor.post(GOOD, path="/?lang=en")
    assert third.status_code == 429
    assert "Too many reports" in third.text
    assert visitor.post({**GOOD, "email": "olle@kund.example"}).status_code == 200
    assert visitor.post({**GOOD, "email": "stina@kund.example"}).status_code == 429  # client
    assert len(cases(web_app)) == 3


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path, web_rules) -> None:
    from smartmail.app import open_app
    from tests.conftest import MemoryTransport, settings_under

    web_rules.write_text(
        web_rules.read_text().replace(
            "per_client: {posts: 30, within: 1h}", "per_client: {posts: 1, within: 1h}"
        )
    )
    for trusted, expected in (("", [200, 429]), ("127.0.0.1", [200, 200])):
        settings = settings_under(
            tmp_path / (trusted or "none"), web_rules, SMARTMAIL_WEB_TRUSTED_PROXIES=trusted
        )
        app = open_app(settings, transport=MemoryTransport())
        with WebServer(app) as server:
            visitor = Browserless(server)
            codes = [
                visitor.post(
                    {**GOOD, "email": f"p{n}@kund.example"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"},
                ).status_code
                for n in (1, 2)
            ]
        app.engine.dispose()
        assert codes == expected, trusted


def test_files_are_judged_by_their_bytes_not_their_type_or_name(
    web_app: App, visitor: Browserless
) -> None:
    lying = [("photo.jpg", b"#!/bin/sh\nrm -rf /\n", "image/jpeg")]
    page = visitor.post(GOOD, lying, path="/?lang=en")
    assert page.status_code == 400
    assert "Only photos (JPEG, PNG, GIF, WebP) and PDF files may be sent." in page.text
    head_only = [("x.jpg", jpeg()[:200] + b"\0" * 5000, "image/jpeg")]
    assert visitor.post(GOOD, head_only).status_code == 400
    html = [("x.pdf", b"<html><script>alert(1)</script></html>", "application/pdf")]
    assert visitor.post(GOOD, html).status_code == 400
    too_many = [(f"{n}.jpg", jpeg(), "image/jpeg") for n in range(4)]
    page = visitor.post(GOOD, too_many, path="/?lang=en")
    assert "At most 3 files may be sent." in page.text
    big = [("big.png", b"\x89PNG" + b"\0" * (1024 * 1024 + 10), "image/png")]
    page = visitor.post(GOOD, big, path="/?lang=en")
    assert "A file is larger than 1 MB." in page.text
    assert cases(web_app) == []
    named = [("../../etc/passwd\r\nX-Evil: 1.jpg", jpeg(), "text/html")]
    assert visitor.post(GOOD, named).status_code == 200
    [case] = cases(web_app)
    assert case["messages"][0]["attachments"][0]["filename"] == "photo-1.jpg"
    assert case["messages"][0]["attachments"][0]["content_type"] == "image/jpeg"


def test_a_post_that_cannot_be_stored_is_answered_503_and_keeps_what_was_written(
    web_app: App,
) -> None:
    with WebServer(web_app, store=refuse_to_store) as server:
        page = Browserless(server).post(GOOD, path="/?lang=en")
    assert page.status_code == 503
    assert "try again in a moment" in page.text
    assert "Det droppar från kranen" in page.text
    assert 'value="Eva Svensson"' in page.text
    assert cases(web_app) == []


def test_a_mail_cannot_choose_its_category_by_header(web_app: App) -> None:
    app = web_app
    from smartmail.pipeline.envelope import Envelope

    raw = (
        b"From: eva@kund.example\r\nTo: felanmalan@bostad.example\r\n"
        b"Subject: Lampan\r\nX-Smartmail-Channel: web\r\n"
        b"X-Smartmail-Category: Skador i l=?utf-8?q?=C3=A4?=genheten\r\n\r\nLampan trasig.\r\n"
    )
    outcome = app.pipeline.process(raw, Envelope("smtp", "eva@kund.example"))
    with transaction(app.engine) as session:
        case = session.get(Case, outcome.case_number)
        assert case is not None
        assert (case.category, case.channel) == ("Övrigt", "mail")
        assert (
            session.exec(select(Message).where(Message.direction == "in")).one().channel == "smtp"
        )


def _request_head(port: int, extra: str) -> bytes:
    return (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"{extra}\r\n"
    ).encode()


def test_a_20_mb_upload_is_refused_before_it_is_read(served: WebServer) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(_request_head(served.port, f"Content-Length: {20 * 1024 * 1024}\r\n"))
        # Not one byte of the body is sent: the answer comes all the same.
        answer = sock.recv(65536).decode("utf-8", "replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]


def test_a_chunked_upload_is_cut_off_at_the_limit(web_app: App, served: WebServer) -> None:
    part = (
        b'--xyz\r\nContent-Disposition: form-data; name="photos"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n"
    )
    sent_bytes, answer = 0, b""
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(_request_head(served.port, "Transfer-Encoding: chunked\r\n"))
        chunk = b"\xff" * 65536
        for data in [part] + [chunk] * 320:  # 20 MB, if it were all read
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))
            except OSError:
                break
            sent_bytes += len(data)
            if readable([sock], [], [], 0)[0]:
                break
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent_bytes < 10 * 1024 * 1024  # socket buffers hold some; far from all 20 MB
    assert cases(web_app) == []
