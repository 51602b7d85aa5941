"""msgid: ids re-written or dropped, References capped, one reply prefix."""

from __future__ import annotations

import pytest

from smartmail.mail import msgid


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc.123@kund.example>", "<abc.123@kund.example>"),
        ("abc@kund.example", "<abc@kund.example>"),  # brackets lost by a broken mailer
        ("  <abc@kund.example>\r\n", "<abc@kund.example>"),
        (
            "<CAF+x=y/z_{1}|~^`'*!#$%&?@mail.gmail.com>",
            "<CAF+x=y/z_{1}|~^`'*!#$%&?@mail.gmail.com>",
        ),
        ("<a.@b..c>", "<a.@b..c>"),  # stray dots, as some old mailers write
        ("<x@[127.0.0.1]>", "<x@[127.0.0.1]>"),
    ],
)
def test_valid_ids_are_written_again(value: str, expected: str) -> None:
    assert msgid.clean_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        "<>",
        "<@kund.example>",
        "<abc@>",
        "<abc>",
        "<abc@kund.example",
        "abc@kund.example>",
        "<a b@kund.example>",
        "<a\r\nX-Evil: 1@kund.example>",
        "<a\r\n\r\nbody@kund.example>",
        "<a\x00@kund.example>",
        "<a\u2028@kund.example>",
        "<å@kund.example>",
        '<"quoted"@kund.example>',
        "<a@b@kund.example>",
        "<a@kund.example> <b@kund.example>",
        "<=?utf-8?q?a=0D=0AX-Evil:_1?=@kund.example>",
        "<=?utf-8?q?a=0D=0A?=@kund.example>",
        "<a@[1.2.3.4\r\n]>",
        "<a@[x[y]>",
        "<" + "a" * 240 + "@kund.example>",
    ],
)
def test_anything_else_is_dropped(value: str | None) -> None:
    assert msgid.clean_id(value) is None


def test_references_keep_the_first_and_the_newest_once_each() -> None:
    ids = [f"<{i}@kund.example>" for i in range(30)]
    kept = msgid.references([None, ids[0], "<bad id>", *ids, ids[3]])
    assert kept == [ids[0], *ids[11:]]
    assert len(kept) == msgid.MAX_REFERENCES
    assert msgid.references(ids[:5]) == ids[:5]
    assert msgid.references([]) == []


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("SV: Re: Sv: Re: Nytt i ärende 1 … [#1-abcdefgh]", "Nytt i ärende 1 … [#1-abcdefgh]"),
        ("Sv: SV: Re: Sv: Re: Nytt i ärende 1", "Nytt i ärende 1"),
        ("Re[2]: AW: Fwd: FW: VS: Vb: Antw: TR: RV: WG: x", "x"),
        ("Sv:Stopp", "Stopp"),
        ("Nytt ärende 1 till dig: Re: Fwd: Stopp", "Nytt ärende 1 till dig: Stopp"),
        (
            "Sv: Re:  Fwd:   Stopp  i   avloppet  [#1-abcdefgh]",
            "Stopp i avloppet [#1-abcdefgh]",
        ),
        ("回复\uff1a转发\uff1a 你好", "你好"),  # full-width colons
        ("Stopp i avloppet", "Stopp i avloppet"),
        ("Restaurang: Sveriges bästa", "Restaurang: Sveriges bästa"),
        ("Trasig dörr\t\r\n i  hallen", "Trasig dörr i hallen"),
        ("Ärende 1: Re:", "Ärende 1:"),
        ("", ""),
    ],
)
def test_one_reply_prefix_and_single_spaces(subject: str, expected: str) -> None:
    assert msgid.plain_subject(subject) == expected
