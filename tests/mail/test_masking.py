"""Masking personal numbers: numbers that pass their checks are masked, numbers that only
look like them stay; fuzzed with hypothesis where outside text flows into our mail."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum import luhn

from smartmail.mail import masking
from smartmail.mail.masking import STARS, is_identity_number, mask


def identity_number(born: date, serial: int, coordination: bool = False) -> str:
    """A valid number: yymmdd (day + 60 for a coordination number), serial, check digit."""
    day = born.day + (60 if coordination else 0)
    digits = f"{born:%y%m}{day:02d}{serial:03d}"
    return digits + luhn.calc_check_digit(digits)


def broken(number: str) -> str:
    """The same number with a wrong check digit."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("19800101-3294", "19800101-****"),
        ("800101-3294", "800101-****"),
        ("8001013294", "800101-****"),
        ("198001013294", "19800101-****"),
        ("800161-3291", "800161-****"),  # coordination number: day + 60
        ("4111 1111 1111 1111", "**** **** **** 1111"),
        ("4111-1111-1111-1111", "**** **** **** 1111"),
        ("SE45 5000 0000 0583 9825 7466", "SE45 **** 7466"),
        ("portkod 1234", "portkod ****"),
        ("Portkoden är 4567B", "Portkoden är ****"),
        ("door code: 9911", "door code: ****"),
        ("kontonummer 8327-9 123 456 789", "kontonummer ****"),
    ],
)
def test_numbers_that_pass_their_checks_are_masked(written: str, shown: str) -> None:
    assert mask(f"Hej, {written}, tack.") == f"Hej, {shown}, tack."


@pytest.mark.parametrize(
    "written",
    [
        "19800101-3295",  # wrong check digit
        "800132-3291",  # no such day
        "800191-3292",  # coordination day past 91
        "4111 1111 1111 1112",  # fails Luhn
        "SE45 5000 0000 0583 9825 7467",  # IBAN checksum fails
        "070-123 45 67",  # a phone number
        "2026-12-04 10:00",  # a time
        "ärende 12345",  # a case number
        "kod 1234",  # a code, but not said to be the door's
    ],
)
def test_numbers_that_only_look_like_them_stay(written: str) -> None:
    assert mask(f"Hej, {written}, tack.") == f"Hej, {written}, tack."


_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
# Text around a number; a keyword right before it ("konto 0001010009") masks it as an
# account number, which other tests check. Also none of the letters (?i) folds to ASCII.
_KEYWORDS = ("kont", "clearing", "account", "kod", "code")
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Nd")), max_size=40).filter(
    lambda text: (
        not any(word in text.casefold() for word in _KEYWORDS)
        and not any(odd in text for odd in "\u0130\u0131\u017f\u212a")
    )
)


@given(_DATES, st.integers(0, 999), st.booleans(), st.booleans(), _TEXT, _TEXT)
def test_a_valid_number_anywhere_in_text_is_masked(
    born: date, serial: int, coordination: bool, century: bool, before: str, after: str
) -> None:
    number = identity_number(born, serial, coordination)
    written = f"{born:%Y}"[:2] + number if century else number
    assert is_identity_number(written)
    text = f"{before} {written} {after}"
    masked = mask(text)
    assert f" {written[:-4]}-{STARS} " in masked  # its last four digits can be in its date too
    assert mask(masked) == masked  # masking twice changes nothing more


@given(_DATES, st.integers(0, 999), _TEXT, _TEXT)
def test_a_number_with_a_wrong_checksum_stays(
    born: date, serial: int, before: str, after: str
) -> None:
    text = f"{before} {broken(identity_number(born, serial))} {after}"
    assert mask(text) == text


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_masking_any_text_keeps_it_text_and_is_stable(text: str) -> None:
    masked = mask(text)
    assert isinstance(masked, str)
    assert mask(masked) == masked
    assert masked.count("\n") == text.count("\n")  # lines stay lines


@given(st.integers(10**12, 10**19 - 1))
def test_a_card_number_is_masked_only_when_its_luhn_holds(number: int) -> None:
    digits = str(number)
    text = f"kort {digits} slut"
    if luhn.is_valid(digits) and not is_identity_number(digits):
        assert mask(text) == f"kort {STARS} {STARS} {STARS} {digits[-4:]} slut"
    elif not luhn.is_valid(digits):
        assert mask(text) == text


def test_a_leap_day_is_a_birth_date_and_the_day_after_february_28_of_other_years_none() -> None:
    leap = identity_number(date(2000, 2, 29), 123)
    assert is_identity_number(leap)
    assert not is_identity_number(broken(leap))
    digits = "010229123"  # 29 February 2001 never was
    assert not is_identity_number(digits + luhn.calc_check_digit(digits))


def every_pattern(text: str) -> str:
    """`mask` as plain subs: each pattern run over the whole text."""
    text = masking._IDENTITY.sub(masking._identity, text)
    text = masking._IBAN.sub(masking._iban, text)
    text = masking._CARD.sub(masking._card, text)
    text = masking._ACCOUNT.sub(masking._keyword, text)
    return masking._DOOR.sub(masking._keyword, text)


# Pieces the numbers and keywords are made of, the four letters (?i) folds to ASCII among them,
# and what trying each pattern only at some places could get wrong: text before a keyword as
# long as its lead ("porttelefon"), whitespace between words, a word character right before
# a keyword ("xportkod"), keywords next to each other, a keyword far into a long text.
PIECES = st.sampled_from(
    [
        *"0123456789 -+:.,#*_\nAZSEKkxä\t\u00a0\u0130\u0131\u017f\u212a\u00e9\u0663",
        "19800101",
        "19800101-3294",
        "800101",
        "3294",
        "800161-3291",
        "0701234567",
        "070-1234567",
        "4111",
        "4111 1111 1111 1111",
        "SE45",
        "5000",
        "SE45 5000 0000 0583 9825 7466",
        "Portkod",
        "portkoden är",
        "porttelefon",
        "PORTTELEFONKODEN",
        "dörrkod",
        "entrékod",
        "kod",
        "\u212aod",
        "Koden",
        " till ",
        "porten",
        "koden till porten",
        "DOOR CODE",
        "door",
        "Code",
        "entry",
        "gate",
        "code: ",
        " \n\t ",
        "kontonummer",
        "KONTO",
        "\u212aonto",
        "bank",
        "bankkonto",
        "clearingnr.",
        "clear\u0131ngnummer",
        "Account No.",
        "account",
        " number",
        "kontakta",
        " is ",
        "1234-5678",
        "Hej! Jag bor på Storgatan 12 och tvättmaskinen har felkod E21 sedan i tisdags. " * 4,
    ]
)


@given(st.lists(PIECES, max_size=30).map("".join))
@settings(max_examples=1500)
@example("portkod portkod 1234 portkod 5678")
@example("xportkod 1234 _portkod 1234 äportkod 1234 Xkod till porten 1234")
@example("door \t\n code 1234, entry  code: 99A, gate code is 123")
@example("door" + " " * 20 + "code 1234")
@example("Hej 19800101-3294 och port\u212aod 1234")
@example("porttelefonkoden är 1234 och bankkonto 1234-5678 och kod till huset 123")
@example("123456+19800101-3294 och 8001013294 och 4111 1111 1111 1111")
def test_the_quick_looks_never_change_what_is_masked(text: str) -> None:
    assert mask(text) == every_pattern(text)
