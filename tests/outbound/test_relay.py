"""Mail out through a real SMTP relay: TLS levels against a self-signed certificate,
SMTPUTF8 for addresses that are not ASCII."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlmodel import col, select

from smartmail.app import App, open_app
from smartmail.pipeline.envelope import Envelope
from smartmail.store.db import transaction
from smartmail.store.models import Event, Message, Outbox
from tests.conftest import free_port, settings_under
from tests.outbound.relays import Certificate, TlsSink, relay, self_signed

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DESK = "felanmalan@bostad.example"
EVA = "eva@kund.example"
ASA = "åsa@kund.example"
OWNER = "kalle@bostad.example"  # "stopp i avloppet" goes to the caretakers, Kalle first


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return self_signed(tmp_path / "certs")


@pytest.fixture
def tls_relay(certificate: Certificate) -> Iterator[TlsSink]:
    with relay(certificate) as sink:
        yield sink


@pytest.fixture
def opened(tmp_path: Path, rules_path: Path) -> Iterator[list[App]]:
    apps: list[App] = []
    yield apps
    for each in apps:
        each.engine.dispose()


def relayed_app(opened: list[App], tmp_path: Path, rules_path: Path, **environ: str) -> App:
    """The app with a real SMTP transport to the relay given in `environ`."""
    settings = settings_under(tmp_path, rules_path, **environ)
    app = open_app(settings)
    opened.append(app)
    return app


def mail_in(app: App, sender: str = EVA, subject: str = "Stopp i avloppet") -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, DESK, subject
    msg["Message-ID"] = make_msgid(domain="kund.example")
    msg.set_content("Det är stopp i avloppet.")
    raw = msg.as_bytes(policy=msg.policy.clone(utf8=True))
    outcome = app.pipeline.process(raw, Envelope("smtp", sender, (DESK,)), NOW)
    assert outcome.kind == "new_case"


def queued(app: App) -> list[Outbox]:
    with transaction(app.engine) as session:
        return list(session.exec(select(Outbox).order_by(col(Outbox.id))).all())


def relay_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and "SMARTMAIL_OUTBOUND_CA" in r.getMessage()
    ]


# -- TLS levels ------------------------------------------------------------------------------


def test_smtp_takes_starttls_without_checking_a_self_signed_certificate(
    opened: list[App], tmp_path: Path, rules_path: Path, tls_relay: TlsSink
) -> None:
    app = relayed_app(
        opened, tmp_path, rules_path, SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{tls_relay.port}"
    )
    mail_in(app)
    assert app.deliver(NOW).sent == 2
    assert tls_relay.over_tls == [True, True]
    assert {rcpt for _from, (rcpt,) in tls_relay.envelopes} == {EVA, OWNER}


def test_verify_refuses_a_self_signed_certificate_and_says_once_what_to_set(
    opened: list[App],
    tmp_path: Path,
    rules_path: Path,
    tls_relay: TlsSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"smtp://127.0.0.1:{tls_relay.port}"
    app = relayed_app(
        opened, tmp_path, rules_path, SMARTMAIL_OUTBOUND=url, SMARTMAIL_OUTBOUND_TLS="verify"
    )
    for n in range(3):
        mail_in(app, sender=f"kund{n}@kund.example")
    caplog.set_level(logging.DEBUG, logger="smartmail")
    report = app.deliver(NOW)
    assert (report.sent, report.retried, report.failed) == (0, 6, 0)
    later = app.deliver(NOW + timedelta(minutes=2))  # every mail tried again
    assert (later.sent, later.retried) == (0, 6)
    assert tls_relay.messages == []
    (advice,) = relay_errors(caplog)  # once, not once per mail or per pass
    assert "self-signed certificate" in advice
    assert "SMARTMAIL_OUTBOUND_TLS=may" in advice
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert {(row.status, row.attempts) for row in queued(app)} == {("queued", 2)}


def test_verify_with_the_relays_certificate_as_ca_file_delivers(
    opened: list[App],
    tmp_path: Path,
    rules_path: Path,
    tls_relay: TlsSink,
    certificate: Certificate,
) -> None:
    app = relayed_app(
        opened,
        tmp_path,
        rules_path,
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{tls_relay.port}",
        SMARTMAIL_OUTBOUND_CA=str(certificate.cert),  # alone, it means verify
    )
    assert app.settings.outbound is not None
    assert app.settings.outbound.security == "verify"
    mail_in(app)
    assert app.deliver(NOW).sent == 2
    assert tls_relay.over_tls == [True, True]


def test_the_advice_is_logged_again_after_the_relay_took_mail_in_between(
    opened: list[App],
    tmp_path: Path,
    rules_path: Path,
    certificate: Certificate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="smartmail")
    stranger = self_signed(tmp_path / "other", "other.test")
    port = free_port()
    app = relayed_app(
        opened,
        tmp_path,
        rules_path,
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{port}",
        SMARTMAIL_OUTBOUND_CA=str(certificate.cert),
    )
    mail_in(app)
    with relay(stranger, port=port):
        assert app.deliver(NOW).retried == 2
    with relay(certificate, port=port):
        assert app.deliver(NOW + timedelta(minutes=2)).sent == 2
    assert any("takes mail again" in r.getMessage() for r in caplog.records)
    mail_in(app, sender="nisse@kund.example")
    with relay(stranger, port=port):
        assert app.deliver(NOW + timedelta(minutes=3)).retried == 2
    assert len(relay_errors(caplog)) == 2


def test_verify_needs_starttls_and_none_never_takes_it(
    opened: list[App], tmp_path: Path, rules_path: Path, tls_relay: TlsSink
) -> None:
    with relay() as plain:
        app = relayed_app(
            opened,
            tmp_path,
            rules_path,
            SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{plain.port}",
            SMARTMAIL_OUTBOUND_TLS="verify",
        )
        mail_in(app)
        assert app.deliver(NOW).retried == 2
        assert plain.messages == []
    assert all("offers no STARTTLS" in row.last_error for row in queued(app))
    app = relayed_app(
        opened,
        tmp_path,
        rules_path,
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{tls_relay.port}",
        SMARTMAIL_OUTBOUND_TLS="none",
    )
    assert app.deliver(NOW + timedelta(minutes=2)).sent == 2
    assert tls_relay.over_tls == [False, False]


# -- addresses that are not ASCII ------------------------------------------------------------


def test_a_utf8_address_goes_with_smtputf8_when_the_relay_offers_it(
    opened: list[App], tmp_path: Path, rules_path: Path, tls_relay: TlsSink
) -> None:
    app = relayed_app(
        opened, tmp_path, rules_path, SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{tls_relay.port}"
    )
    mail_in(app, sender=ASA)
    assert app.deliver(NOW).sent == 2
    (index,) = [i for i, (_, rcpts) in enumerate(tls_relay.envelopes) if rcpts == [ASA]]
    assert tls_relay.envelopes[index][0].startswith("felanmalan+b-")  # its own return path
    ack = tls_relay.read_as_utf8(index)
    assert ack["To"].addresses[0].addr_spec == ASA
    assert "[#1-" in str(ack["Subject"])


def test_a_utf8_address_through_a_relay_without_smtputf8_fails_for_good_and_the_owner_hears(
    opened: list[App], tmp_path: Path, rules_path: Path
) -> None:
    with relay(smtputf8=False) as ascii_only:
        app = relayed_app(
            opened, tmp_path, rules_path, SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{ascii_only.port}"
        )
        mail_in(app, sender=ASA)
        report = app.deliver(NOW)
        assert (report.sent, report.failed) == (2, 1)  # the owner's new case, then the notice
        assert app.deliver(NOW + timedelta(hours=1)).sent == 0
    with transaction(app.engine) as session:
        event = session.exec(select(Event).where(Event.kind == "delivery_failed")).one()
        notice = session.exec(select(Message).where(Message.template == "delivery_failed")).one()
    assert ASA in event.detail
    assert "SMTPUTF8" in event.detail
    assert notice.to_addrs == OWNER
    (told,) = ascii_only.to(OWNER, subject="levereras")
    text = told.get_content()
    assert ASA in text
    assert "SMTPUTF8" in text
    assert ascii_only.to(ASA) == []
    failed = [row for row in queued(app) if row.status == "failed"]
    assert [row.rcpt_to for row in failed] == [ASA]
