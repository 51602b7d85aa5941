"""The pure parts of the page's defences: form tokens, the client behind a proxy, the
language, and the catalogue holding every word the templates use."""

from __future__ import annotations

import re
from ipaddress import ip_network

import time_machine

from smartmail.mail.phrases import read_catalog
from smartmail.store.models import utcnow
from smartmail.web.pages import TEMPLATES
from smartmail.web.protect import FormTokens, TokenCheck, client_address
from smartmail.web.words import PAGE_WORDS

PROXY = (ip_network("127.0.0.1"), ip_network("10.0.0.0/8"))


def test_a_form_token_is_bound_to_its_browser_purpose_and_time() -> None:
    tokens = FormTokens(b"secret")
    nonce = tokens.nonce(None)
    assert tokens.nonce(nonce) == nonce  # the browser's cookie is kept
    assert tokens.nonce("x; Path=/") != "x; Path=/"  # a made-up cookie is not
    with time_machine.travel(utcnow(), tick=False) as traveller:
        token = tokens.issue(nonce, "form")
        assert tokens.check(token, nonce, "form", 3) is TokenCheck.TOO_FAST
        traveller.shift(3)
        assert tokens.check(token, nonce, "form", 3) is TokenCheck.OK
        assert tokens.check(token, tokens.nonce(None), "form", 3) is TokenCheck.EXPIRED
        assert tokens.check(token, None, "form", 3) is TokenCheck.EXPIRED
        assert tokens.check(token, nonce, "case:1", 3) is TokenCheck.EXPIRED
        assert FormTokens(b"other").check(token, nonce, "form", 0) is TokenCheck.EXPIRED
        assert tokens.check("garbage", nonce, "form", 0) is TokenCheck.EXPIRED
        traveller.shift(2 * 3600)
        assert tokens.check(token, nonce, "form", 3) is TokenCheck.EXPIRED


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    assert client_address("203.0.113.9", ["198.51.100.1"], PROXY) == "203.0.113.9"
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"
    assert client_address("127.0.0.1", ["198.51.100.1"], PROXY) == "198.51.100.1"
    # The client may write anything in front; the nearest hop our proxies did not add counts.
    assert client_address("127.0.0.1", ["1.2.3.4, 198.51.100.1, 10.0.0.5"], PROXY) == (
        "198.51.100.1"
    )
    assert client_address("127.0.0.1", ["evil, 198.51.100.1"], PROXY) == "198.51.100.1"
    assert client_address("127.0.0.1", ["198.51.100.1, not-an-ip"], PROXY) == "127.0.0.1"
    assert client_address("127.0.0.1", [], PROXY) == "127.0.0.1"
    assert client_address("::1", ["2001:db8::1"], (ip_network("::1"),)) == "2001:db8::1"


def test_every_word_of_the_templates_is_marked_and_has_its_swedish() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"_\('([^']*)'", template.read_text(encoding="utf-8")))
    assert used <= set(PAGE_WORDS)
    catalog = read_catalog("sv")
    assert [w for w in PAGE_WORDS if not (m := catalog.get(w)) or not m.string] == []
