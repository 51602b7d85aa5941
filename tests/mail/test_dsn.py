"""Reading bounces and delivery reports: who failed, how, why, and which mail it was."""

from __future__ import annotations

import base64
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smartmail.mail.dsn import REASON_CHARS, Failure, one_line, read_report
from tests.mail import bounce_mails

VERP = "felanmalan+b-7-abcdefghij@bostad.example"
OURS = "<ack-7@bostad.example>"
EVA = "eva@kund.example"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"


def test_a_standard_report_names_the_recipient_status_reason_and_returned_mail() -> None:
    report = read_report(bounce_mails.rfc3464(to=VERP, returned_id=OURS, recipient=EVA))
    assert report.standard
    assert report.message_ids == (OURS,)
    assert report.failures == (
        Failure(
            address=EVA,
            original=EVA,
            status="5.1.1",
            reason=f"550 5.1.1 <{EVA}>: Recipient address rejected: User unknown",
            permanent=True,
        ),
    )


def test_the_returned_mail_may_come_whole() -> None:
    raw = bounce_mails.rfc3464(to=VERP, returned_id=OURS, recipient=EVA, returned="message")
    assert read_report(raw).message_ids == (OURS,)


def test_a_folded_diagnostic_is_one_line() -> None:
    (failure,) = read_report((FIXTURES / "bounce_delivery_status.eml").read_bytes()).failures
    assert failure.reason == (
        "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"
    )


def test_rfc3464_example_failed_with_a_4xx_status_is_not_for_good() -> None:
    """Five days of timeouts: the mail is lost, the address may be fine."""
    report = read_report(bounce_mails.rfc3464_example_timeout(to=VERP, returned_id=OURS))
    (failure,) = report.failures
    assert (failure.address, failure.status, failure.permanent) == (
        "louis@larry.slip.umd.edu",
        "4.0.0",
        False,
    )
    assert failure.reason == "426 connection timed out"
    assert report.message_ids == (OURS,)


def test_rfc3464_example_with_three_recipients() -> None:
    report = read_report(bounce_mails.rfc3464_example_three(to=VERP))
    got = [(f.address, f.status, f.permanent) for f in report.failures]
    assert got == [
        ("arathib@vnet.ibm.com", "5.0.0", True),
        ("johnh@hpnjld.njd.hp.com", "4.0.0", False),
        ("wsnell@sdcc13.ucsd.edu", "5.0.0", True),
    ]
    assert (
        report.failures[0].reason == "550 'arathib@vnet.IBM.COM' is not a registered gateway user"
    )
    assert report.message_ids == ("<three@bostad.example>",)


def test_a_delay_is_a_failure_but_not_for_good() -> None:
    raw = bounce_mails.rfc3464(
        to=VERP,
        returned_id=OURS,
        recipient=EVA,
        action="delayed",
        status="4.2.2",
        diagnostic="smtp; 452 4.2.2 Mailbox full",
    )
    (failure,) = read_report(raw).failures
    assert (failure.status, failure.permanent, failure.reason) == (
        "4.2.2",
        False,
        "452 4.2.2 Mailbox full",
    )


def test_a_report_of_delivery_is_no_failure() -> None:
    raw = bounce_mails.rfc3464(to=VERP, returned_id=OURS, recipient=EVA, action="delivered")
    report = read_report(raw)
    assert report.standard
    assert report.failures == ()
    assert report.message_ids == (OURS,)


def test_a_base64_encoded_status_part_is_read() -> None:
    raw = bounce_mails.rfc3464(to=VERP, returned_id=OURS, recipient=EVA).decode()
    head, rest = raw.split("Content-Type: message/delivery-status\r\n\r\n")
    status, tail = rest.split("\r\n--B0UND", 1)
    encoded = base64.encodebytes(status.encode()).decode().replace("\n", "\r\n")
    raw = (
        f"{head}Content-Type: message/delivery-status\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--B0UND{tail}"
    )
    (failure,) = read_report(raw.encode()).failures
    assert (failure.address, failure.status, failure.permanent) == (EVA, "5.1.1", True)


def test_an_original_message_id_field_names_the_mail() -> None:
    raw = bounce_mails.rfc3464(to=VERP, returned_id=OURS, recipient=EVA, returned="")
    raw = raw.replace(
        b"Reporting-MTA: dns; mx.kund.example\r\n",
        b"Reporting-MTA: dns; mx.kund.example\r\nOriginal-Message-ID: <other@bostad.example>\r\n",
    )
    assert read_report(raw).message_ids == ("<other@bostad.example>",)


def test_qmail_text_bounce() -> None:
    report = read_report(bounce_mails.qmail_text(to=VERP, recipient=EVA, returned_id=OURS))
    assert not report.standard
    assert report.message_ids == (OURS,)
    (failure,) = report.failures
    assert (failure.address, failure.status, failure.permanent) == (EVA, "5.1.1", True)
    assert failure.reason == "Remote host said: 550 sorry, no mailbox here by that name. (#5.1.1)"


def test_exim_text_bounce() -> None:
    (failure,) = read_report(bounce_mails.exim_text(to=VERP, recipient=EVA)).failures
    assert (failure.address, failure.status, failure.permanent) == (EVA, "5.1.1", True)
    assert "User unknown" in failure.reason


def test_a_bounce_that_names_nobody_still_gives_its_status() -> None:
    (failure,) = read_report(bounce_mails.unnamed_text(to=VERP)).failures
    assert (failure.address, failure.status, failure.permanent) == ("", "5.7.1", True)
    assert failure.reason.startswith("Reason: 554 5.7.1 Message rejected")


def test_a_delay_warning_in_text_is_not_for_good() -> None:
    report = read_report(bounce_mails.warning_text(to=VERP, recipient=EVA))
    assert report.failures
    assert not any(f.permanent for f in report.failures)
    assert {f.status for f in report.failures} == {"4.2.2"}


def test_an_autoreply_reports_no_failure() -> None:
    report = read_report(bounce_mails.autoreply(to=VERP, sender=EVA))
    assert report == read_report(b"")
    assert report.failures == ()


def test_an_ip_address_or_version_is_no_status() -> None:
    raw = b"From: MAILER-DAEMON@x\r\n\r\nhost 10.4.5.6 said nothing; running 5.1.12.4 here\r\n"
    assert read_report(raw).failures == ()


def test_hostile_fields_stay_one_short_printable_line() -> None:
    raw = bounce_mails.rfc3464(
        to=VERP,
        returned_id=OURS,
        recipient=EVA,
        diagnostic="smtp; 550 =?utf-8?q?x?= \x07bell\x1b[31m" + "A" * 2000,
    )
    (failure,) = read_report(raw).failures
    assert failure.reason.isprintable()
    assert len(failure.reason) == REASON_CHARS
    assert "\x1b" not in failure.reason


def test_a_recipient_field_that_is_no_address_names_nobody() -> None:
    raw = bounce_mails.rfc3464(to=VERP, returned_id=OURS, recipient="not an address")
    (failure,) = read_report(raw).failures
    assert failure.address == ""


def test_eight_bit_bytes_in_fields_do_not_break_reading() -> None:
    raw = bounce_mails.rfc3464(
        to=VERP, returned_id=OURS, recipient=EVA, diagnostic="smtp; 550 5.1.1 okänd mottagare"
    )
    raw = raw.replace("okänd".encode(), "ok\xe4nd".encode("latin-1"))
    (failure,) = read_report(raw).failures
    assert failure.reason.startswith("550 5.1.1 ok")


def test_deep_nesting_is_read_without_failing() -> None:
    depth = 3000
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    raw = f"From: MAILER-DAEMON@x\r\n{opening}\r\nhej\r\n".encode()
    assert read_report(raw).failures == ()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_report(raw: bytes) -> None:
    report = read_report(raw)
    for failure in report.failures:
        assert failure.reason.isprintable()
        assert len(failure.reason) <= REASON_CHARS


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), st.text(max_size=80))
def test_any_diagnostic_and_recipient_stay_clean(diagnostic: str, recipient: str) -> None:
    raw = bounce_mails.rfc3464(
        to=VERP,
        returned_id=OURS,
        recipient=recipient,
        diagnostic=diagnostic,
    )
    for failure in read_report(raw).failures:
        assert failure.reason.isprintable()
        assert len(failure.reason) <= REASON_CHARS
        assert failure.address == "" or ("@" in failure.address and " " not in failure.address)
        assert failure.address.isprintable()


def test_one_line() -> None:
    assert one_line("  a\r\n b\tc  ") == "a b c"
    assert one_line("x" * 10, limit=5) == "xxxx…"
