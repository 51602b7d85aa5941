from dataclasses import replace

import pytest

from smartmail.mail.guard import GUARD_CHECKS, GuardInput, run_guard
from smartmail.mail.parse import ParsedMail

OWN = frozenset({"support@example.org"})


def mail(from_addr: str = "eva@kund.example", **headers: str) -> ParsedMail:
    return ParsedMail(
        message_id="<1@kund.example>",
        subject="Hej",
        from_addr=from_addr,
        from_name="",
        to=("support@example.org",),
        cc=(),
        reply_to=(),
        date=None,
        in_reply_to=(),
        references=(),
        headers={k.replace("_", "-").lower(): v for k, v in headers.items()},
        text="Hej",
        reply_text="Hej",
        html="",
        attachments=(),
        content_type="text/plain",
    )


def guard(parsed: ParsedMail, envelope_from: str | None = "eva@kund.example", **kw: object):
    return run_guard(GuardInput(parsed, envelope_from, OWN, **kw))


def test_a_person_gets_an_answer() -> None:
    result = guard(mail())
    assert result.hits == ()
    assert result.may_answer
    assert result.may_open_case


@pytest.mark.parametrize(
    ("parsed", "envelope_from", "hit", "opens_case"),
    [
        (mail(Auto_Submitted="auto-replied"), "eva@kund.example", "auto_submitted", True),
        (mail(X_Autoreply="yes"), "eva@kund.example", "auto_submitted", True),
        (mail(Precedence="bulk"), "eva@kund.example", "bulk", True),
        (mail(List_Id="<news.kund.example>"), "eva@kund.example", "bulk", True),
        (mail(), "", "bounce", False),
        (mail("mailer-daemon@mx.kund.example"), None, "bounce", False),
        (mail("postmaster@kund.example"), None, "bounce", False),
        (mail("support@example.org"), None, "from_self", False),
        (mail("support+3-abc@example.org"), None, "from_self", False),
        (mail(X_Smartmail_Loop="support@example.org"), None, "our_loop", False),
        (mail(""), None, "no_sender", True),
    ],
)
def test_machine_mail_is_never_answered(
    parsed: ParsedMail, envelope_from: str | None, hit: str, opens_case: bool
) -> None:
    result = guard(parsed, envelope_from)
    assert hit in result.hits
    assert not result.may_answer
    assert result.may_open_case is opens_case


def test_auto_submitted_no_means_a_person() -> None:
    assert guard(mail(Auto_Submitted="no")).may_answer


def test_a_report_is_a_bounce() -> None:
    assert "bounce" in guard(replace(mail(), content_type="multipart/report")).hits


def test_answers_are_rate_limited_per_sender() -> None:
    assert guard(mail(), answers_last_hour=9, answers_per_hour=10).may_answer
    limited = guard(mail(), answers_last_hour=10, answers_per_hour=10)
    assert limited.hits == ("rate_limited",)
    assert limited.may_open_case
    assert not limited.machine


def test_every_check_is_described() -> None:
    names = [check.name for check in GUARD_CHECKS]
    assert len(names) == len(set(names))
    assert all(check.description for check in GUARD_CHECKS)


def test_mail_past_the_loop_limit_is_held_as_a_machines() -> None:
    from smartmail.mail.guard import LoopCounts

    below = guard(mail(), loops=LoopCounts(9, 9, 9, 9), loop_limit=10)
    assert below.may_answer
    for counts in (LoopCounts(case_in=10), LoopCounts(case_out=10), LoopCounts(address_out=12)):
        held = guard(mail(), loops=counts, loop_limit=10)
        assert held.hits == ("loop_limit",)
        assert held.may_open_case
        assert held.machine
    assert LoopCounts(10, 3, 11, 0).over(10) == ("case_in=10", "address_in=11")


def test_the_same_text_again_from_staff_is_a_machines() -> None:
    result = guard(mail(), repeated=True, staff=True)
    assert result.hits == ("repeated_text",)
    assert result.machine
    assert guard(mail(), repeated=True).may_answer  # a customer may say the same twice


def test_an_away_notice_counts_only_from_staff() -> None:
    away = replace(
        mail(),
        reply_text="Jag är på semester till 14 augusti och läser inte min e-post.",
    )
    assert guard(away).may_answer  # a tenant may open with it
    assert guard(away, staff=True).hits == ("away_notice",)
