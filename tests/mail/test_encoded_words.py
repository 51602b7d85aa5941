"""Broken RFC 2047 words in Subject and names are read as a reader's mail client reads them."""

# ruff: noqa: RUF001  (East Asian text has full-width punctuation, Swedish en dashes)

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartmail.mail.encoded_words import HeaderReading, decode_value
from smartmail.mail.parse import parse
from tests.mail.test_parse import mail


def b_word(text: str, label: str = "utf-8", charset: str | None = None) -> str:
    payload = base64.b64encode(text.encode(charset or label)).decode()
    return f"=?{label}?B?{payload}?="


def split_b_words(data: bytes, at: int, label: str = "utf-8") -> str:
    """Two B words with `data` split at byte `at`: mid-character when `at` says so."""
    first, second = (base64.b64encode(part).decode() for part in (data[:at], data[at:]))
    return f"=?{label}?B?{first}?= =?{label}?B?{second}?="


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # no space before or after the word
        ("Re:=?utf-8?Q?V=C3=A4rmen?=", "Re:Värmen"),
        ("=?utf-8?Q?V=C3=A4rmen?=igen", "Värmenigen"),
        ("Ang.=?iso-8859-1?Q?l=E4ckage?=i k=?iso-8859-1?Q?=F6ket?=", "Ang.läckagei köket"),
        # spaces inside a Q word
        ("=?utf-8?Q?Fel i v=C3=A4rmen p=C3=A5 Storgatan?=", "Fel i värmen på Storgatan"),
        ("=?iso-8859-1?q?Fr=E5ga om hyran?=", "Fråga om hyran"),
        # words of one charset joined: white space between them is no text
        ("=?utf-8?Q?Stopp_i?= =?utf-8?Q?_avloppet?=", "Stopp i avloppet"),
        ("=?utf-8?Q?a?=\t  =?utf-8?Q?b?= c", "ab c"),
        # unknown or misspelled charset names
        ("=?utf8?Q?r=C3=A4kning?=", "räkning"),
        ("=?UTF8?B?csOka25pbmc=?=", "räkning"),
        ("=?unicode-1-1-utf-7?Q?V+AOQ-rmen?=", "Värmen"),
        ("=?x-unknown?Q?r=E4kning?=", "räkning"),
        ("=?x-unknown?Q?r=C3=A4kning?=", "räkning"),
        ("=?iso-gb2312?Q?r=E4kning?=", "räkning"),
        ("=?utf-8*sv?Q?r=C3=A4kning?=", "räkning"),
        # base64 without its padding
        ("=?utf-8?B?csOka25pbmc?=", "räkning"),
        # a word with a different charset next to another
        ("Hej =?iso-8859-1?Q?=E5?= och =?utf-8?Q?=C3=A4?=", "Hej å och ä"),
        # an encoded CR/LF is no line break in a one-line value
        ("=?utf-8?Q?Hej=0D=0ABcc:_x@evil.example?=", "Hej  Bcc: x@evil.example"),
    ],
)
def test_broken_words_are_read(value: str, expected: str) -> None:
    assert decode_value(value) == expected


@pytest.mark.parametrize(
    ("text", "charset"),
    [("värmepump i källaren", "utf-8"), ("暖房が壊れました", "utf-8"), ("房租的問題", "big5")],
)
def test_a_character_split_between_two_words_comes_out_whole(text: str, charset: str) -> None:
    data = text.encode(charset)
    for at in range(1, len(data)):
        assert decode_value(split_b_words(data, at, charset)) == text


@pytest.mark.parametrize(
    ("text", "charset", "label"),
    [
        ("Fråga om hyran för december", "utf-8", "iso-8859-1"),
        ("您好，我的公寓暖气坏了，请尽快派人来修理", "gb2312", "iso-8859-1"),
        ("您好，我的公寓暖气坏了，请尽快派人来修理", "gb2312", "utf-8"),
        ("お問い合わせ：部屋の暖房が壊れました", "shift_jis", "us-ascii"),
    ],
)
def test_a_whole_header_in_one_word_of_the_wrong_charset(
    text: str, charset: str, label: str
) -> None:
    reading = HeaderReading()
    assert decode_value(b_word(text, label, charset), reading) == text
    assert reading.notes  # and it is said how it was read


def test_a_short_subject_in_a_wrong_charset_is_read_in_the_body_charset() -> None:
    subject = b_word("测试邮件", "iso-8859-1", "gb2312")
    body = "您好，我的公寓暖气坏了，房间里很冷。请尽快派人来修理。谢谢！".encode("gb2312")
    parsed = parse(mail(body, Subject=subject))
    assert parsed.subject == "测试邮件"
    assert "subject: gb18030 detected (labelled iso-8859-1)" in parsed.notes


def test_raw_8bit_subject_and_name_in_the_mails_charset() -> None:
    body = "您好，我想問一下這個月的房租什麼時候要付？我還沒有收到繳費單。".encode("big5")
    raw = mail(
        body,
        From=b'"' + "陳小明".encode("big5") + b'" <chen@kund.example>',
        Subject="房租".encode("big5"),
        Content_Type="text/plain; charset=big5",
    )
    parsed = parse(raw)
    assert (parsed.subject, parsed.from_name) == ("房租", "陳小明")


def test_question_marks_in_a_q_word_and_a_word_cut_off_at_the_end() -> None:
    assert decode_value("=?utf-8?Q?Hur_m=C3=A5r_du??=") == "Hur mår du?"
    assert decode_value("=?utf-8?Q?Vad?= kostar =?utf-8?Q?det??=") == "Vad kostar det?"
    assert decode_value("Re: =?utf-8?B?5pqW5oi/44Gu5pWF6Zqc") == "Re: 暖房の故障"  # no "?="
    assert decode_value("Re: =?utf-8?Q?r=C3=A4kning") == "Re: räkning"


def test_what_is_no_encoded_word_is_left_as_written() -> None:
    assert decode_value("a =? b ?= c") == "a =? b ?= c"
    assert decode_value("=?utf-8?X?abc?=") == "=?utf-8?X?abc?="
    assert decode_value("Pris: 5 =?") == "Pris: 5 =?"


words = st.builds(
    lambda text, label, kind: (
        f"=?{label}?{kind}?{base64.b64encode(text.encode('utf-8')).decode()}?="
        if kind == "B"
        else f"=?{label}?Q?{''.join(f'={b:02X}' for b in text.encode('utf-8'))}?="
    ),
    st.text(min_size=1, max_size=30),
    st.sampled_from(["utf-8", "UTF8", "x-unknown", "iso-8859-1"]),
    st.sampled_from(["B", "Q"]),
)


@given(st.lists(st.one_of(words, st.text(max_size=10)), max_size=5))
def test_no_subject_keeps_a_word_whose_bytes_can_be_read_nor_a_line_break(
    pieces: list[str],
) -> None:
    value = " ".join(pieces)
    text = decode_value(value)
    assert "\r" not in text
    assert "\n" not in text
    assert not any(piece in text for piece in pieces if piece.startswith("=?") and piece in value)
