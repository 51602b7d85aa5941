"""Whatever a stranger types, it becomes no header, no recipient and no markup of ours."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartmail.mail.parse import parse
from smartmail.rules.load import rules_from_text
from smartmail.web.form import check_report
from smartmail.web.message import report_mail
from smartmail.web.pages import Pages
from smartmail.web.uploads import Posted
from tests.web.conftest import WEB_RULES, Browserless

RULES = rules_from_text(WEB_RULES, "rules.yaml")
OWN = frozenset({"felanmalan@bostad.example"})
NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "x-smartmail-channel",
    "x-smartmail-category",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
}
HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "Eva\r\nBcc: all@evil.example",
            "x\nX-Smartmail-Category: Skador i lägenheten",
            "=?utf-8?q?=0D=0ABcc=3A_a=40evil.example?=",
            '"a,b"@evil.example, c@evil.example',
            "\u2028Bcc: x@evil.example\u2029",
            "<script>alert(1)</script>",
            "\x00\x1b[31m",
        ]
    ),
)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(name=HOSTILE, phone=HOSTILE, address=HOSTILE, description=HOSTILE, category=HOSTILE)
def test_a_post_becomes_one_mail_from_the_tenant_whatever_its_fields_hold(
    name: str, phone: str, address: str, description: str, category: str
) -> None:
    fields = {
        "name": name,
        "email": "eva@kund.example",
        "phone": phone,
        "address": address,
        "category": category,
        "description": description,
    }
    report, problems = check_report(Posted(fields=fields), RULES, OWN)
    if report is None:
        assert problems
        return
    raw = report_mail(report, "felanmalan@bostad.example", "sv", NOW)
    msg = message_from_bytes(raw, policy=policy.default)
    assert {k.lower() for k in msg} <= HEADERS
    assert len(msg.get_all("From")) == 1
    assert len(msg.get_all("To")) == 1
    assert msg.get_all("X-Smartmail-Category", []) in ([], [report.category])
    assert report.category in ("", *RULES.form_categories)
    mail = parse(raw)
    assert mail.from_addr == "eva@kund.example"
    assert mail.to == ("felanmalan@bostad.example",)
    assert "\n" not in mail.subject


@settings(max_examples=100)
@given(value=HOSTILE)
def test_what_a_stranger_wrote_is_text_on_the_page_never_markup(value: str) -> None:
    html = (
        Pages()
        .render(
            "problem.html", "en", title=value, office=value, switch_to="/?", message=value, back=""
        )
        .text
    )
    assert "<script" not in html  # the page has none of its own: any would be the value's
    assert html.count("<h1>") == 1


def test_a_script_in_a_field_is_shown_as_text(visitor: Browserless) -> None:
    page = visitor.post(
        {"name": "<script>alert(1)</script>", "email": "", "description": "</textarea><b>x"}
    )
    assert page.status_code == 400
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&lt;/textarea&gt;&lt;b&gt;x" in page.text
    assert "<script>" not in page.text


@settings(max_examples=500)
@given(name=HOSTILE, subject=HOSTILE, text=HOSTILE)
def test_a_message_from_a_cases_page_is_one_mail_to_the_reply_address(
    name: str, subject: str, text: str
) -> None:
    from smartmail.web.message import body_text, one_line, reply_mail

    to = "felanmalan+1-abcdefgh2k@bostad.example"
    raw = reply_mail(
        "eva@kund.example",
        one_line(name, 200),
        to,
        one_line(subject, 200),
        body_text(text),
        (),
        NOW,
    )
    msg = message_from_bytes(raw, policy=policy.default)
    assert {k.lower() for k in msg} <= HEADERS
    mail = parse(raw)
    assert mail.from_addr == "eva@kund.example"
    assert mail.to == (to,)
