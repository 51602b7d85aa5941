"""The SMS words: one message of GSM letters, whatever a sender wrote."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smartmail.desk.sms_text import (
    CaseFacts,
    burst_text,
    gsm_length,
    gsm_text,
    page_text,
)

GSM = set(
    "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


def facts(problem: str, who: str = "Eva Ek", category: str = "Skador / Läcka") -> CaseFacts:
    return CaseFacts(4711, "akut", category, who, problem)


def test_a_page_keeps_swedish_letters_and_says_how_to_take_it() -> None:
    text = page_text(facts("Det läcker från kranen i köket.\nMvh Eva"), "sv")
    assert text == (
        "Ärende 4711 (akut): Skador / Läcka. Eva Ek: Det läcker från kranen i köket. "
        "Svara OK 4711 för att ta det."
    )
    english = page_text(facts("Leak"), "en")
    assert english.endswith("Reply OK 4711 to take it.")


def test_a_long_problem_is_cut_to_one_sms() -> None:
    text = page_text(facts("Vatten " * 100), "sv")
    assert gsm_length(text) <= 160
    assert "Vatten Vatten" in text
    assert "..." in text
    assert text.endswith("Svara OK 4711 för att ta det.")


def test_letters_outside_gsm_become_their_base_or_a_question_mark() -> None:
    assert gsm_text("Ångström café naïve 🚰 水 ç") == "Ångström café naive ? ? c"
    assert gsm_text("rad ett\r\nrad två\u200b\x00 slut") == "rad ett rad två slut"


def test_a_burst_lists_the_cases() -> None:
    text = burst_text([facts("a"), CaseFacts(4712, "akut", "Läcka", "", "b")], "sv")
    assert text == (
        "2 akuta ärenden: 4711 Skador / Läcka, 4712 Läcka. Svara OK och ett nummer för att ta ett."
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.text(max_size=200), st.text(max_size=200))
def test_whatever_a_sender_writes_the_sms_is_one_plain_gsm_message(
    problem: str, who: str, category: str
) -> None:
    text = page_text(facts(problem, who, category), "sv")
    assert gsm_length(text) <= 160
    assert set(text) <= GSM
    assert "\n" not in text
    assert "\r" not in text
    assert text.endswith("Svara OK 4711 för att ta det.")
