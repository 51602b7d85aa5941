"""The SMS providers against a fake gateway on loopback, and the `log` default's files."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartmail.config import parse_sms
from smartmail.errors import ConfigError, PermanentFailure, TemporaryFailure
from smartmail.outbound.sms import LogProvider, make_sms_provider
from tests.conftest import free_port
from tests.outbound.sms_gateway import FakeGateway, fake_gateway

NUMBER = "+46701234567"


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    with fake_gateway() as running:
        yield running


def elks(gateway: FakeGateway, tmp_path: Path):  # type: ignore[no-untyped-def]
    setting = f"46elks+http://u123:p%40ss@127.0.0.1:{gateway.port}?from=Bostad&reply_secret=r"
    return make_sms_provider(parse_sms(setting), tmp_path / "sms")


def test_46elks_gets_a_form_post_with_basic_auth(gateway: FakeGateway, tmp_path: Path) -> None:
    elks(gateway, tmp_path).send(NUMBER, "Ärende 12 (akut): vattenläcka. Svara OK 12")
    [request] = gateway.requests
    assert request.path == "/a1/sms"
    assert request.form() == {
        "from": "Bostad",
        "to": NUMBER,
        "message": "Ärende 12 (akut): vattenläcka. Svara OK 12",
    }
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(b"u123:p@ss").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        *((code, TemporaryFailure) for code in (500, 503, 429)),
        *((code, PermanentFailure) for code in (400, 401, 403)),
    ],
)
def test_5xx_is_tried_again_and_4xx_never(
    gateway: FakeGateway, tmp_path: Path, code: int, error: type[Exception]
) -> None:
    gateway.answers.append(code)
    with pytest.raises(error, match=str(code)):
        elks(gateway, tmp_path).send(NUMBER, "hej")


def test_a_gateway_that_is_away_is_tried_again(tmp_path: Path) -> None:
    setting = parse_sms(f"46elks+http://u:p@127.0.0.1:{free_port()}")
    with pytest.raises(TemporaryFailure):
        make_sms_provider(setting, tmp_path).send(NUMBER, "hej")


def test_the_webhook_posts_signed_json(gateway: FakeGateway, tmp_path: Path) -> None:
    setting = parse_sms(f"webhook+http://127.0.0.1:{gateway.port}/hook?secret=s3&from=Jour")
    make_sms_provider(setting, tmp_path).send(NUMBER, "Ärende 12")
    [request] = gateway.requests
    assert request.path == "/hook"
    assert json.loads(request.body) == {"from": "Jour", "to": NUMBER, "message": "Ärende 12"}
    digest = hmac.new(b"s3", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Smartmail-Signature"] == f"sha256={digest}"


def test_the_log_provider_writes_the_number_and_text(tmp_path: Path) -> None:
    provider = make_sms_provider(parse_sms(None), tmp_path / "sms")
    assert isinstance(provider, LogProvider)
    provider.send(NUMBER, "Ärende 12: läcka")
    [written] = (tmp_path / "sms").iterdir()
    assert written.read_text(encoding="utf-8") == f"To: {NUMBER}\n\nÄrende 12: läcka\n"


@pytest.mark.parametrize(
    "value",
    [
        "sms://x",
        "46elks://api.46elks.com",  # no login
        "46elks://u:p@api.46elks.com?token=1",
        "webhook+https:///path",
    ],
)
def test_a_wrong_setting_says_what_is_wrong_and_never_the_password(value: str) -> None:
    with pytest.raises(ConfigError, match="SMARTMAIL_SMS") as caught:
        parse_sms(value.replace("u:p", "u:secretpw").replace("=1", "=1&secret=secretpw"))
    assert "secretpw" not in str(caught.value)


def test_the_settings_of_each_gateway() -> None:
    elks_setting = parse_sms("46elks://u:p@api.46elks.com?from=Bostad&reply_secret=r1")
    assert (elks_setting.kind, elks_setting.url) == ("46elks", "https://api.46elks.com/a1/sms")
    assert (elks_setting.sender, elks_setting.reply_secret) == ("Bostad", "r1")
    assert parse_sms("log").kind == "log"
    assert parse_sms("log://?reply_secret=r2").reply_secret == "r2"
    hook = parse_sms("webhook+https://sms.example/in?secret=s")
    assert (hook.kind, hook.url, hook.sign_secret) == ("webhook", "https://sms.example/in", "s")
