"""Text in unlabelled or mislabelled charsets is read as written, and how is said."""

# ruff: noqa: RUF001  (East Asian text has full-width punctuation, Swedish en dashes)

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartmail.mail.charsets import codec, decode, describe
from smartmail.mail.parse import parse
from tests.mail.test_parse import mail

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"

#: Sentences of a length a tenant writes, in the charsets East Asian mail comes in.
EAST_ASIAN = {
    "gb2312": ("您好，我的公寓暖气坏了，房间里很冷。请尽快派人来修理。", "gb18030"),
    "gbk": ("请问这个月的房租什么时候交？我还没有收到账单。", "gb18030"),
    "big5": ("您好，我想問一下這個月的房租什麼時候要付？我還沒有收到繳費單。", "big5hkscs"),
    "shift_jis": ("こんにちは。部屋の暖房が壊れました。修理をお願いします。", "cp932"),
    "euc-kr": ("안녕하세요, 아파트 난방이 고장났습니다. 빨리 수리해 주세요.", "cp949"),
}
#: Western text that must stay as the label says: the detector is never asked about it.
WESTERN = [
    "Hej, det är stopp i avloppet på Storgatan 5",
    "Hej ä",
    "Grüße aus München, die Heizung ist kaputt.",
    "Bonjour, le chauffage ne marche pas. Très cordialement, Hélène",
    "Pris € 120 – ”snabbt” tack, mvh Åsa",
]


@pytest.mark.parametrize("label", [None, "iso-8859-1", "us-ascii", "x-unknown"])
@pytest.mark.parametrize("charset", list(EAST_ASIAN))
def test_east_asian_text_labelled_as_nothing_or_latin1_is_detected(
    charset: str, label: str | None
) -> None:
    text, expected = EAST_ASIAN[charset]
    decoded = decode(text.encode(charset), label)
    assert decoded.text == text
    assert (decoded.codec, decoded.how) == (expected, "detected")
    said = f"labelled {label}" if label else "no charset"
    assert describe(decoded, label) == f"{expected} detected ({said})"


@pytest.mark.parametrize("label", [None, "iso-8859-1", "us-ascii", "windows-1252"])
@pytest.mark.parametrize("text", WESTERN)
def test_western_text_keeps_its_label_or_is_read_as_windows_1252(
    text: str, label: str | None
) -> None:
    decoded = decode(text.encode("cp1252"), label)
    assert decoded.text == text
    assert decoded.codec == "cp1252"


def test_a_declared_charset_that_reads_plausibly_is_kept() -> None:
    for charset, (text, expected) in EAST_ASIAN.items():
        decoded = decode(text.encode(charset), charset)
        assert (decoded.text, decoded.codec, decoded.how) == (text, expected, "declared")
        assert describe(decoded, charset) == ""


def test_a_declared_charset_that_does_not_decode_is_replaced_by_the_detected_one() -> None:
    text, _expected = EAST_ASIAN["gb2312"]
    decoded = decode(text.encode("gb2312"), "utf-8")
    assert (decoded.text, decoded.codec) == (text, "gb18030")
    assert describe(decoded, "utf-8") == "gb18030 detected (labelled utf-8)"
    assert decode("Hej då".encode(), "iso-8859-1").text == "Hej då"  # UTF-8 labelled Latin-1


def test_a_hint_reads_a_few_bytes_the_detector_is_unsure_of() -> None:
    subject = "测试邮件".encode("gb2312")  # four characters: any double-byte charset reads them
    assert decode(subject, None, "gb18030").text == "测试邮件"


def test_iso_2022_jp_decodes_labelled_unlabelled_and_with_half_width_katakana() -> None:
    text = "お世話になっております。部屋の暖房が壊れました。"
    assert decode(text.encode("iso2022_jp"), "iso-2022-jp").text == text
    assert decode(text.encode("iso2022_jp"), None).text == text
    assert decode(text.encode("iso2022_jp"), "us-ascii").text == text
    katakana = "ｶﾀｶﾅの件"  # half-width: only the extended variants have it
    assert decode(katakana.encode("iso2022_jp_ext"), "iso-2022-jp").text == katakana


@pytest.mark.parametrize("label", ["utf-7", "UTF-7", "unicode-1-1-utf-7"])
def test_utf7_decodes(label: str) -> None:
    assert decode("Hej då, värmen är borta".encode("utf-7"), label).text == (
        "Hej då, värmen är borta"
    )


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("utf8", "utf-8"),
        ("UTF-8", "utf-8"),
        ('"iso-8859-1"', "cp1252"),
        ("charset=us-ascii", "cp1252"),
        ("ks_c_5601-1987", "cp949"),
        ("Shift_JIS", "cp932"),
        ("x-sjis", "cp932"),
        ("gb2312", "gb18030"),
        ("unicode-1-1-utf-7", "utf-7"),
        ("utf-8*sv", "utf-8"),
        ("x-unknown", None),
        ("base64", None),  # a codec of Python, no charset of mail
        ("unicode_escape", None),
        ("", None),
        ("nonsense-42", None),
    ],
)
def test_charset_names_as_mail_writes_them(label: str, expected: str | None) -> None:
    assert codec(label) == expected


def test_outlooks_latin1_that_is_windows_1252_is_read_as_windows_1252() -> None:
    parsed = parse((FIXTURES / "outlook_windows1252_as_latin1.eml").read_bytes())
    assert parsed.subject == "Offert för målning – trapphus"
    assert parsed.from_name == "Åsa Öberg"
    assert "Offerten på målningen – “trapphus B” – blev 12 500 €." in parsed.text
    assert parsed.notes == ()  # read as declared: nothing to note


@pytest.mark.parametrize(
    ("name", "subject", "words", "note"),
    [
        ("gb2312_unlabelled.eml", "暖气坏了", "请尽快派人来修理", "gb18030 detected (no charset)"),
        (
            "big5_labelled_latin1.eml",
            "關於房租的問題",
            "繳費單",
            "big5hkscs detected (labelled iso-8859-1)",
        ),
        (
            "shift_jis_labelled_us_ascii.eml",
            "お問い合わせ",
            "修理をお願いします",
            "cp932 detected (labelled us-ascii)",
        ),
        ("euc_kr_unlabelled.eml", "난방 고장", "수리해 주세요", "cp949 detected (no charset)"),
    ],
)
def test_mislabelled_mail_reads_right_in_subject_and_body_and_says_how(
    name: str, subject: str, words: str, note: str
) -> None:
    parsed = parse((FIXTURES / name).read_bytes())
    assert parsed.subject == subject
    assert words in parsed.text
    assert f"text/plain: {note}" in parsed.notes
    assert any(n.startswith("subject: ") for n in parsed.notes)


def test_iso_2022_jp_mail_has_no_escape_sequences_left() -> None:
    parsed = parse((FIXTURES / "iso_2022_jp.eml").read_bytes())
    assert (parsed.subject, parsed.from_name) == ("暖房の故障", "田中")
    assert parsed.text == "お世話になっております。部屋の暖房が壊れました。"
    assert "\x1b" not in parsed.text + parsed.subject
    unlabelled = mail("部屋の暖房".encode("iso2022_jp"))
    assert parse(unlabelled).text == "部屋の暖房"
    raw_header = mail(b"x", Subject="暖房の故障".encode("iso2022_jp"))
    assert parse(raw_header).subject == "暖房の故障"


def test_utf7_mail_decodes_subject_and_body() -> None:
    parsed = parse((FIXTURES / "utf7_labelled.eml").read_bytes())
    assert parsed.subject == "Värmen"
    assert parsed.text == "Hej! Värmen är borta i hela lägenheten."


LABELS = st.sampled_from(
    [
        *("", "utf-8", "iso-8859-1", "us-ascii", "gb2312", "big5", "shift_jis", "iso-2022-jp"),
        *("utf-7", "unicode-1-1-utf-7", "x-unknown", "ISO-2\x9c22-JP", "utf-16", "base64"),
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=60), st.binary(max_size=60), st.binary(max_size=200), LABELS)
def test_whatever_the_bytes_every_text_read_is_valid_unicode(
    subject: bytes, name: bytes, body: bytes, label: str
) -> None:
    line_safe = [v.replace(b"\r", b"").replace(b"\n", b"") for v in (subject, name)]
    raw = (
        b"From: " + line_safe[1] + b" <a@kund.example>\r\nSubject: " + line_safe[0] + b"\r\n"
        b"Content-Type: text/plain; charset="
        + label.encode("utf-8", "surrogateescape")
        + b"\r\n\r\n"
        + body
    )
    parsed = parse(raw)
    texts = [parsed.subject, parsed.from_name, parsed.text, parsed.reply_text]
    texts += [*parsed.notes, *parsed.defects, *parsed.headers.values()]
    for text in texts:
        text.encode("utf-8")  # no lone surrogates: every one of them can be stored
    assert "\n" not in parsed.subject
    assert "\r" not in parsed.subject
