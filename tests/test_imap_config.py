"""SMARTMAIL_IMAP: mailbox URLs, their defaults, and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartmail.config import ImapMailbox, load_settings, parse_imap, parse_imap_url, parse_relay
from smartmail.errors import ConfigError


def test_imap_with_every_part_given() -> None:
    box = parse_imap_url("imap://desk:secret@mail.example:1143/Helpdesk")
    assert box == ImapMailbox("mail.example", 1143, False, "desk", "secret", "Helpdesk", None)


@pytest.mark.parametrize(
    ("url", "port", "tls"),
    [("imap://u:p@mail.example", 143, False), ("imaps://u:p@mail.example", 993, True)],
)
def test_default_ports(url: str, port: int, tls: bool) -> None:
    box = parse_imap_url(url)
    assert (box.port, box.tls) == (port, tls)


@pytest.mark.parametrize("url", ["imap://u:p@mail.example", "imap://u:p@mail.example/"])
def test_the_folder_defaults_to_inbox(url: str) -> None:
    assert parse_imap_url(url).folder == "INBOX"


def test_user_password_and_folder_are_unquoted() -> None:
    box = parse_imap_url("imaps://hyra%40bostad.example:p%40ss%2Cw%3Ard@mail.example/Kund%20post")
    assert box.username == "hyra@bostad.example"
    assert box.password == "p@ss,w:rd"
    assert box.folder == "Kund post"


def test_address_names_the_function_address() -> None:
    box = parse_imap_url("imap://u:p@mail.example/INBOX?address=Hyra@Bostad.example")
    assert box.address == "hyra@bostad.example"
    assert parse_imap_url("imap://u:p@mail.example/INBOX").address is None


def test_several_mailboxes_comma_separated() -> None:
    boxes = parse_imap(
        "imap://a:p@mail.example/INBOX?address=felanmalan@bostad.example, "
        "imaps://b:p@other.example:10993/Hyra?address=hyra@bostad.example,"
    )
    assert [(b.username, b.host, b.port, b.folder, b.address) for b in boxes] == [
        ("a", "mail.example", 143, "INBOX", "felanmalan@bostad.example"),
        ("b", "other.example", 10993, "Hyra", "hyra@bostad.example"),
    ]
    assert parse_imap(None) == ()
    assert parse_imap("") == ()


def test_the_password_stays_out_of_repr_and_str() -> None:
    box = parse_imap_url("imap://desk:hunter2@mail.example/INBOX")
    assert "hunter2" not in repr(box)
    assert str(box) == "imap://desk@mail.example:143/INBOX"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("pop3://u:p@mail.example/INBOX", "expected imap://user:pass@host:port/FOLDER"),
        ("mail.example", "expected imap://"),
        ("imap:///INBOX", "expected imap://"),
        ("imap://mail.example/INBOX", "the user and password are missing"),
        ("imap://u@mail.example/INBOX", "the user and password are missing"),
        ("imap://u:p@mail.example:99999/INBOX", "out of range"),
        ("imap://u:p@mail.example:abc/INBOX", "Port could not be cast"),
        ("imap://u:p@[::1/INBOX", "Invalid IPv6 URL"),
        ("imap://u:p@mail.example/INBOX?adress=x@y.example", "unknown parameter 'adress'"),
        ("imap://u:p@mail.example/INBOX?address=nobody", "is no email address"),
        ("imap://u:p@mail.example/INBOX?address=a@x.example&address=b@x.example", "more than"),
        ("imap://u:p@mail.example/INBOX?address", "bad query"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match="SMARTMAIL_IMAP=") as raised:
        parse_imap(url)
    assert message in str(raised.value)


def test_errors_do_not_show_the_password() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_imap("imap://desk:hunter2@mail.example:port/INBOX")
    assert "hunter2" not in str(raised.value)
    assert "desk:***@mail.example" in str(raised.value)


def test_settings_read_the_mailboxes_and_folders(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "SMARTMAIL_DATA_DIR": str(tmp_path),
            "SMARTMAIL_IMAP": "imap://u:p@mail.example/INBOX",
            "SMARTMAIL_IMAP_FAILED": "Trasig",
        },
        env_file=None,
    )
    assert [m.host for m in settings.imap] == ["mail.example"]
    assert (settings.imap_processed, settings.imap_failed) == ("Processed", "Trasig")


@pytest.mark.parametrize("folder", ["INBOX", "inbox"])
def test_a_filing_folder_may_not_be_the_folder_read(tmp_path: Path, folder: str) -> None:
    with pytest.raises(ConfigError, match=r"SMARTMAIL_IMAP_PROCESSED='.*' is the folder read"):
        load_settings(
            {
                "SMARTMAIL_DATA_DIR": str(tmp_path),
                "SMARTMAIL_IMAP": "imap://u:p@mail.example/INBOX",
                "SMARTMAIL_IMAP_PROCESSED": folder,
            },
            env_file=None,
        )


def test_a_bad_relay_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigError) as error:
        parse_relay("smtps://kalle:hemligt@mx.example.org:notaport")
    assert "hemligt" not in str(error.value)
    with pytest.raises(ConfigError) as error:
        parse_relay("http://kalle:hemligt@mx.example.org")
    assert "hemligt" not in str(error.value)
