"""Bytes of unknown or doubtful charset into text, and which charset read them.

A declared charset is kept when its text reads plausibly. Labels mail software writes
for what is really a larger charset are read as that one, as mail clients read them
(iso-8859-1 and us-ascii as windows-1252, gb2312 as gb18030, euc-kr as cp949, shift_jis
as cp932). Where the label is missing, unknown, or its text is improbable (a Latin-1
reading of Chinese, Japanese or Korean bytes is a mess of accents and symbols), the
charset is found by charset-normalizer, which also judges how messy a reading is.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

#: Above this share of odd characters a reading is taken for mojibake
#: (charset-normalizer's own default threshold).
_MESS = 0.2

#: What mail software writes, read as mail clients read it (WHATWG's encoding table).
_ALIASES = {
    "unicode-1-1-utf-7": "utf-7",
    "unicode-1-1-utf-8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "iso-8859-8-i": "iso8859-8",
    "x-mac-roman": "mac-roman",
}
#: Labels that name no charset at all.
_NO_CHARSET = frozenset({"x-unknown", "unknown", "unknown-8bit", "x-user-defined", "8bit"})
#: Codecs that Python has but that are no text charset of mail.
_NOT_MAIL = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})
#: Read as they are: a plausible reading under these is never doubted.
_WESTERN = frozenset({"ascii", "cp1252"})
#: Two readings this close in the detector's measure of mess are equally clean.
_TIE = 0.001
#: The charsets that the detector chooses from: those that mail is written in, the more
#: mail is written in one, the earlier.
_MAIL_CODECS = [
    "utf_8",
    "gb18030",
    "big5hkscs",
    "cp932",
    "euc_jp",
    "cp949",
    "koi8_r",
    "cp1251",
    "cp1250",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp874",
    "cp1252",
]
#: The ISO-2022-JP family, broadest last; ESC sequences announce them in 7-bit text.
_ISO2022 = ("iso2022_jp", "iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_3", "iso2022_kr")
_ISO2022_ESC = re.compile(rb"\x1b(?:\$[@B(D]|\([BJI]|\$\)C)")
_LABEL_SHOWN = re.compile(r"[^\x21-\x7e]")  # a label as the notes show it: printable ASCII
_LABEL_JUNK = re.compile(r"^(?:charset\s*=\s*)|[\s\"';]+")


@dataclass(frozen=True)
class Decoded:
    text: str  # C1 controls read as Windows-1252, NUL and lone surrogates dropped
    codec: str  # Python's name of the codec that read it, e.g. "gb18030"
    how: str  # "declared", "read" (as UTF-8), "detected" or "guessed" (as Windows-1252)


def codec(label: str | None) -> str | None:
    """Python's codec for a charset label as mail writes it; None when it names none."""
    name = _LABEL_JUNK.sub("", (label or "").split("*", 1)[0].lower())
    if not name or name in _NO_CHARSET:
        return None
    name = _ALIASES.get(name, name)
    for candidate in (name, name.removeprefix("x-"), name.replace("_", "-")):
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError, TypeError):
            continue
        if getattr(info, "_is_text_encoding", True) and info.name not in _NOT_MAIL:
            return _ALIASES.get(info.name, info.name)
    return None


def decode(data: bytes, label: str | None = None, hint: str | None = None) -> Decoded:
    """Read `data` as its label says when that reads plausibly, else as detected.

    `hint` is a charset the same mail used elsewhere: tried before detection, which is
    unsure on a few bytes such as a subject.
    """
    declared = codec(label)
    if data.isascii():
        return _seven_bit(data, declared)
    if declared is not None and declared not in _WESTERN:
        text = _plausible(data, declared)
        if text is not None:
            return Decoded(text, declared, "declared")
    text = _strict(data, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "read")
    western = clean(data.decode("latin-1"))  # read as Windows-1252 by clean
    if _tidy(western):
        return Decoded(western, "cp1252", "declared" if declared in _WESTERN else "guessed")
    return _detected(data, hint) or Decoded(western, "cp1252", "guessed")


def _seven_bit(data: bytes, declared: str | None) -> Decoded:
    """7-bit data: ASCII, unless it is UTF-7 or ISO-2022 as declared or by its escapes."""
    candidates: list[str] = []
    if declared is not None and declared not in _WESTERN:
        candidates.append(declared)
    if b"\x1b" in data and _ISO2022_ESC.search(data):
        candidates.extend(_ISO2022)
    for name in candidates:
        text = _plausible(data, name)
        if text is not None:
            return Decoded(text, name, "declared" if name == declared else "detected")
    return Decoded(clean(data.decode("ascii")), "ascii", "read")


def _strict(data: bytes, name: str) -> str | None:
    try:
        return clean(data.decode(name))
    except (LookupError, ValueError):
        return None


def _plausible(data: bytes, name: str) -> str | None:
    """The text under `name` when it decodes cleanly and reads like text, else None."""
    family = _ISO2022 if name in _ISO2022 else (name,)
    for candidate in family[family.index(name) :]:
        text = _strict(data, candidate)
        # Bytes that are not UTF-8 hardly ever decode as UTF-8: no need to judge the text.
        if text is not None and (candidate == "utf-8" or text.isascii() or _tidy(text)):
            return text
    return None


def _tidy(text: str) -> bool:
    """True when a reading is not a mess of odd characters, as charset-normalizer judges."""
    return bool(mess_ratio(text, 1.0) < _MESS)


def _detected(data: bytes, hint: str | None) -> Decoded | None:
    if hint and hint not in _WESTERN:
        text = _plausible(data, hint)
        if text is not None:
            return Decoded(text, hint, "detected")
    found = list(from_bytes(data, cp_isolation=_MAIL_CODECS))
    if not found:
        return None
    # Readings the detector finds equally clean go to the charset more mail is written in.
    least = min(match.chaos for match in found)
    tied = [match.encoding for match in found if match.chaos <= least + _TIE]
    best = min(tied, key=lambda name: _MAIL_CODECS.index(name) if name in _MAIL_CODECS else 99)
    name = codec(best) or best
    text = _strict(data, name)
    return Decoded(text, name, "detected") if text is not None else None


# --------------------------------------------------------------------------- cleaning


def _cp1252_char(code: int) -> str | None:
    try:
        return bytes([code]).decode("cp1252")
    except UnicodeDecodeError:
        return None


#: C1 controls read as Windows-1252 (the five unassigned ones dropped), NUL dropped.
_CLEAN_TABLE: dict[int, str | None] = {code: _cp1252_char(code) for code in range(0x80, 0xA0)}
_CLEAN_TABLE[0] = None
SURROGATES = re.compile("[\ud800-\udfff]")
#: Every character that clean changes: the keys of _CLEAN_TABLE and surrogates.
_UNCLEAN = re.compile("[\x00\x80-\x9f\ud800-\udfff]")


def clean(text: str) -> str:
    # Most text has nothing to clean, and one search is much cheaper than translate.
    if not _UNCLEAN.search(text):
        return text
    return SURROGATES.sub("", text.translate(_CLEAN_TABLE))


def describe(decoded: Decoded, label: str | None) -> str:
    """How a text was read, for the parse notes; "" when as declared, or plain ASCII."""
    if decoded.how == "declared" or decoded.codec in ("ascii", codec(label)):
        return ""
    shown = _LABEL_SHOWN.sub("?", clean(label or "")).strip().strip("\"'")[:40]
    said = f"labelled {shown}" if shown else "no charset"
    return f"{decoded.codec} {decoded.how} ({said})"
