"""The page on the real daemon: a post through a real HTTP client, read back with the
`smartmail` command, its acknowledgement from the SMTP sink, its link opened and answered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.conftest import Sink
from tests.rules.on_call_rules import LISA, ON_CALL_RULES
from tests.web.conftest import GOOD, jpeg
from tests.web.daemon import follow_link, web_daemon, web_url

pytestmark = pytest.mark.e2e


def token(http: requests.Session, url: str) -> str:
    page = http.get(url, timeout=10)
    assert page.status_code == 200
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def test_a_report_from_the_page_is_a_case_answered_by_mail(tmp_path: Path, sink: Sink) -> None:
    with web_daemon(tmp_path, sink) as daemon:
        base = web_url(daemon)
        http = requests.Session()
        page = http.post(
            base + "/?lang=en",
            data={**GOOD, "form_token": token(http, base + "/")},
            files=[("photos", ("kran.jpg", jpeg(), "image/jpeg"))],
            timeout=30,
        )
        assert page.status_code == 200, page.text
        assert "Your case number is 1." in page.text
        case = daemon.case(1)
        assert case["channel"] == "web"
        assert case["category"] == "Skador i lägenheten"
        assert case["messages"][0]["attachments"][0]["filename"] == "photo-1.jpg"
        link = follow_link(sink, "eva@kund.example")
        assert sink.wait_to("kalle@bostad.example", 1)  # the owner's notice
        answer = http.post(
            link,
            data={"message": "Det droppar fortfarande.", "form_token": token(http, link)},
            files=[("photos", ("", b"", "application/octet-stream"))],
            timeout=30,
        )
        assert answer.status_code == 200
        assert "Ditt meddelande har lagts till i ärendet." in answer.text
        texts = [m["text"] for m in daemon.case(1)["messages"] if m["direction"] == "in"]
        assert texts[-1] == "Det droppar fortfarande."


def test_an_sms_reply_posted_to_the_daemons_web_listener_takes_the_case(
    tmp_path: Path, sink: Sink
) -> None:
    secret = "r3ply-s3cret"
    sms = f"log://?reply_secret={secret}"
    with web_daemon(tmp_path, sink, ON_CALL_RULES, SMARTMAIL_SMS=sms) as daemon:
        mail = (
            b"From: eva@kund.example\r\nTo: felanmalan@bostad.example\r\n"
            b"Subject: Stopp i avloppet\r\nMessage-ID: <sms-e2e@kund.example>\r\n\r\n"
            b"Vattnet rinner inte undan.\r\n"
        )
        assert daemon.cli("ingest", input=mail).returncode == 0
        reply = {"from": LISA, "to": "+46766861234", "message": "OK 1"}
        base = web_url(daemon)
        assert requests.post(f"{base}/sms/reply/wrong", data=reply, timeout=10).status_code == 404
        answer = requests.post(f"{base}/sms/reply/{secret}", data=reply, timeout=10)
        assert answer.status_code == 200, answer.text
        case = daemon.case(1)
        assert case["assignee"] == "lisa@bostad.example"
        assert "taken" in [event["kind"] for event in case["events"]]
