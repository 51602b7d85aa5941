"""SMARTMAIL_WEB_*: no web unless asked; the page's address and the proxy, checked on start."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest

from smartmail.config import HostPort, load_settings
from smartmail.errors import ConfigError


def settings(tmp_path: Path, **environ: str):  # type: ignore[no-untyped-def]
    return load_settings({"SMARTMAIL_DATA_DIR": str(tmp_path), **environ}, env_file=None)


def test_no_web_unless_it_is_asked_for(tmp_path: Path) -> None:
    unset = settings(tmp_path)
    assert (unset.web_listen, unset.web_url, unset.web_trusted_proxies) == (None, "", ())
    given = settings(
        tmp_path,
        SMARTMAIL_WEB_LISTEN="127.0.0.1:8080",
        SMARTMAIL_WEB_URL="https://felanmalan.bostad.example/",
        SMARTMAIL_WEB_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8,::1",
    )
    assert given.web_listen == HostPort("127.0.0.1", 8080)
    assert given.web_url == "https://felanmalan.bostad.example"
    assert given.web_trusted_proxies == (
        ip_network("127.0.0.1"),
        ip_network("10.0.0.0/8"),
        ip_network("::1"),
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SMARTMAIL_WEB_LISTEN", "8080", "expected host:port"),
        ("SMARTMAIL_WEB_URL", "felanmalan.bostad.example", "expected http(s)://host"),
        ("SMARTMAIL_WEB_URL", "ftp://x.example", "expected http(s)://host"),
        ("SMARTMAIL_WEB_URL", "https://x.example/?a=1", "expected http(s)://host"),
        ("SMARTMAIL_WEB_TRUSTED_PROXIES", "nginx", "expected addresses or networks"),
    ],
)
def test_a_bad_web_setting_says_what_to_write(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=name) as raised:
        settings(tmp_path, **{name: value})
    assert message in str(raised.value)
