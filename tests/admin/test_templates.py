"""The office's own words: template overrides per language, checked by `rules check` with
file and line, used by the daemon, and the shipped template wherever one is missing."""

from __future__ import annotations

import smtplib
import textwrap
from email.message import EmailMessage
from pathlib import Path

import pytest

from smartmail.rules.book import RuleBook
from tests.conftest import TEST_RULES, Sink
from tests.e2e.daemon import daemon_env, run_cli, start_daemon

OWN_ACK = textwrap.dedent(
    """\
    Subject: Tack! Ärende {{ case.number }} är registrerat
    Hej{{ " " ~ customer_name if customer_name }},

    Bostad AB har tagit emot ditt ärende ({{ case.subject }}).
    Vi hör av oss senast {{ when(case.due_at) }}.
    """
)


@pytest.fixture
def office(tmp_path: Path) -> Path:
    """A rules file naming a templates folder beside it, with a Swedish ack of its own."""
    (tmp_path / "mallar" / "sv").mkdir(parents=True)
    (tmp_path / "mallar" / "sv" / "ack.txt").write_text(OWN_ACK, encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    rules.write_text(TEST_RULES + "templates: mallar\n", encoding="utf-8")
    return rules


def _check(rules: Path) -> tuple[int, str, str]:
    result = run_cli({}, rules.parent, "rules", "check", str(rules))
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def test_a_good_override_passes(office: Path) -> None:
    code, out, err = _check(office)
    assert code == 0, err
    assert f"1 templates of its own in {office.parent / 'mallar'}" in out


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (OWN_ACK.replace("{{ case.subject }}", "{{ case.subject "), 4, "unexpected"),
        (OWN_ACK.replace("senast {{", "senast {{ fastighet }} {{"), 5, "'fastighet' is undefined"),
        (OWN_ACK + "{% for x in case.nummer %}{% endfor %}\n", 6, "has no attribute 'nummer'"),
        ("Hej!\n" + OWN_ACK, 1, "the first line should be 'Subject: ...'"),
    ],
)
def test_a_broken_override_is_told_with_file_and_line(
    office: Path, text: str, line: int, says: str
) -> None:
    ack = office.parent / "mallar" / "sv" / "ack.txt"
    ack.write_text(text, encoding="utf-8")
    code, _, err = _check(office)
    assert code == 65
    assert err.startswith(f"{ack}:{line}: "), err
    assert says in err


def test_a_file_smartmail_would_never_use_is_told(office: Path) -> None:
    (office.parent / "mallar" / "sv" / "akc.txt").write_text(OWN_ACK, encoding="utf-8")
    (office.parent / "mallar" / "klingon").mkdir()
    (office.parent / "mallar" / "klingon" / "ack.txt").write_text(OWN_ACK, encoding="utf-8")
    code, _, err = _check(office)
    assert code == 65
    assert "akc.txt:0: not used: no template is called akc (did you mean ack.txt?)" in err
    assert "klingon/ack.txt:0: not used: 'klingon' is no language" in err


def test_a_missing_folder_is_a_rules_error_with_its_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(TEST_RULES + "templates: /nonexistent/mallar\n", encoding="utf-8")
    code, _, err = _check(rules)
    assert code == 65
    line = len(TEST_RULES.splitlines()) + 1
    assert err.strip() == (
        f"{rules}:{line}: templates: no folder /nonexistent/mallar "
        "(templates go in <folder>/sv/ack.txt ...)"
    )


def _mail(subject: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"] = "eva@kund.example", "felanmalan@bostad.example"
    mail["Subject"] = subject
    mail.set_content("Det är stopp i avloppet.")
    return mail


@pytest.mark.e2e
def test_the_daemon_sends_the_override_and_else_the_shipped_one(
    tmp_path: Path, office: Path, sink: Sink
) -> None:
    # Kalle reads English: no English override, so his notice is the shipped one.
    office.write_text(
        office.read_text().replace(
            "name: Kalle Karlsson, role: staff", "name: Kalle Karlsson, role: staff, language: en"
        )
    )
    # A Swedish new-case notice that breaks at send time: the shipped one goes instead.
    (office.parent / "mallar" / "sv" / "new_case.txt").write_text("Subject: {{ nope }}\n")
    env = daemon_env(tmp_path / "data", office, SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}")
    daemon = start_daemon(env, tmp_path)
    try:
        with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as smtp:
            smtp.send_message(_mail("Stopp i avloppet"))
        (ack,) = sink.wait_to("eva@kund.example", 1)
        assert ack["Subject"].startswith("Tack! Ärende 1 är registrerat")
        assert "Bostad AB har tagit emot ditt ärende (Stopp i avloppet)." in ack.get_content()
        (notice,) = sink.wait_to("kalle@bostad.example", 1)
        assert "case" in notice["Subject"].lower()  # the shipped English template
    finally:
        daemon.stop()


@pytest.mark.e2e
def test_a_broken_override_costs_no_mail(tmp_path: Path, office: Path, sink: Sink) -> None:
    (office.parent / "mallar" / "sv" / "ack.txt").write_text("Subject: {{ nope }}\nHej\n")
    env = daemon_env(tmp_path / "data", office, SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}")
    daemon = start_daemon(env, tmp_path)
    try:
        with smtplib.SMTP("127.0.0.1", daemon.port, timeout=30) as smtp:
            smtp.send_message(_mail("Stopp i avloppet"))
        (ack,) = sink.wait_to("eva@kund.example", 1)
        assert "ärende" in ack["Subject"].lower()  # the shipped Swedish acknowledgement
        daemon.stop()
        log = "".join(daemon.log)
        assert "template sv/ack in" in log
        assert "'nope' is undefined); sending the shipped one" in log
    finally:
        daemon.stop()


def test_the_last_good_copy_finds_a_relative_folder(office: Path, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    first = RuleBook(office, tmp_path / "data")
    assert first().templates == office.parent / "mallar"
    office.write_text(TEST_RULES + "templates: mallar\nanswers_per_hour: many\n")
    restarted = RuleBook(office, tmp_path / "data")  # runs on the last good copy
    assert restarted.problem is not None
    assert restarted().templates == office.parent / "mallar"
