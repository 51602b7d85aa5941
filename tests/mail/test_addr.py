"""addr.recipient: one valid address, or MailRefused."""

from __future__ import annotations

import pytest

from smartmail.errors import MailRefused
from smartmail.mail.addr import recipient


@pytest.mark.parametrize(
    "address",
    [
        "eva@kund.example",
        "Eva.Svensson+hyra@kund.example",
        "o'brien@kund.example",
        "åsa@kund.example",  # RFC 6531: sent with SMTPUTF8
        "eva@xn--sa-xia.example",
        "eva@kund.test",
        "kalle@bostad",
    ],
)
def test_one_valid_address_is_kept_as_it_is(address: str) -> None:
    assert recipient(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "",
        " eva@kund.example",
        "eva@kund.example\r\n",
        '"x,evil@evil.example,y"@kund.example',
        '"evil@evil.example"@kund.example',
        '"eva"@kund.example',
        "eva@kund.example, evil@evil.example",
        "eva@kund.example,evil@evil.example",
        "Eva <eva@kund.example>",
        "<eva@kund.example>",
        "undisclosed-recipients:;",
        "group: a@b.example, c@d.example;",
        "eva@kund.example\r\nBcc: evil@evil.example",
        "eva\x00@kund.example",
        "eva@[127.0.0.1]",
        "eva",
        "@kund.example",
        "eva@",
        "eva@@kund.example",
        "eva@kund..example",
        "eva @kund.example",
        "eva@kund.example (comment)",
    ],
)
def test_anything_else_is_refused(address: str) -> None:
    with pytest.raises(MailRefused):
        recipient(address)
