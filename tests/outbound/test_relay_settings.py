"""SMARTMAIL_OUTBOUND_TLS and SMARTMAIL_OUTBOUND_CA: defaults as an MTA's, mistakes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartmail.config import SETTINGS, load_settings, parse_relay
from smartmail.errors import ConfigError
from tests.outbound.relays import self_signed


@pytest.mark.parametrize(
    ("url", "level"),
    [
        ("smtp://127.0.0.1:25", "may"),  # a stock Postfix, self-signed: as its own `may`
        ("smtp://kalle:hemligt@mx.example.org:587", "verify"),  # a login: never unchecked
        ("smtps://mx.example.org", "verify"),
    ],
)
def test_the_tls_level_by_default(url: str, level: str) -> None:
    relay = parse_relay(url)
    assert relay is not None
    assert (relay.security, relay.ca_file) == (level, None)


def test_a_level_set_wins_and_a_ca_file_alone_means_verify(tmp_path: Path) -> None:
    cert = self_signed(tmp_path).cert
    assert parse_relay("smtp://kalle:x@mx.example.org", "MAY").security == "may"  # type: ignore[union-attr]
    assert parse_relay("smtp://127.0.0.1", "none").security == "none"  # type: ignore[union-attr]
    relay = parse_relay("smtp://127.0.0.1", None, str(cert))
    assert relay is not None
    assert (relay.security, relay.ca_file) == ("verify", cert)


def test_the_password_is_not_shown_with_the_relay() -> None:
    assert "hemligt" not in repr(parse_relay("smtps://kalle:hemligt@mx.example.org"))


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"SMARTMAIL_OUTBOUND_TLS": "strict"}, "expected may, verify or none"),
        (
            {"SMARTMAIL_OUTBOUND_TLS": "none", "SMARTMAIL_OUTBOUND": "smtps://mx.example.org"},
            "smtps://",
        ),
        ({"SMARTMAIL_OUTBOUND_CA": "/nonexistent.pem"}, "not a readable PEM"),
        (
            {"SMARTMAIL_OUTBOUND_CA": "{cert}", "SMARTMAIL_OUTBOUND_TLS": "may"},
            "only used to verify",
        ),
        (
            {"SMARTMAIL_OUTBOUND": "", "SMARTMAIL_OUTBOUND_TLS": "verify"},
            "SMARTMAIL_OUTBOUND (the relay) is not",
        ),
    ],
)
def test_a_mistake_is_named_at_start(tmp_path: Path, environ: dict[str, str], says: str) -> None:
    cert = self_signed(tmp_path).cert
    values = {
        "SMARTMAIL_DATA_DIR": str(tmp_path / "data"),
        "SMARTMAIL_OUTBOUND": "smtp://127.0.0.1",
    }
    values.update({key: value.format(cert=cert) for key, value in environ.items()})
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        load_settings(values, env_file=None)


def test_a_file_that_is_no_certificate_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="SMARTMAIL_OUTBOUND_CA"):
        parse_relay("smtp://127.0.0.1", None, str(junk))


def test_both_settings_are_documented() -> None:
    assert {"SMARTMAIL_OUTBOUND_TLS", "SMARTMAIL_OUTBOUND_CA"} <= set(SETTINGS)
