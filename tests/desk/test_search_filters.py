"""`#search` filters: words and key:value filters -> Filters, and what is refused."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartmail.desk.search_filters import MAX_WORDS, BadFilter, Filters, parse_filters


def test_words_and_every_kind_of_filter() -> None:
    filters = parse_filters(
        "avloppet Kök status:open label:Storgatan5 type:fel owner:me "
        "customer:Eva@Kund.example since:2026-11-01 until:2026-11-30T12:00+01:00"
    )
    assert filters.words == ("avloppet", "Kök")
    assert filters.statuses == ("open",)
    assert filters.labels == ("Storgatan5",)
    assert filters.types == ("fel",)
    assert filters.owners == ("me",)
    assert filters.customers == ("eva@kund.example",)
    assert filters.since == date(2026, 11, 1)
    assert isinstance(filters.until, datetime)
    assert filters.until.utcoffset() is not None


def test_swedish_keys_and_values_a_value_after_a_space_and_repeated_keys() -> None:
    filters = parse_filters(
        "#sök-fri text? status: stängd status:löst etikett:vatten etikett:akut typ:fråga "
        "ägare:ingen kund:kund.example sedan:2026-11-01 till:2026-12-01"
    )
    assert filters.words == ("#sök-fri", "text?")
    assert filters.statuses == ("closed", "resolved")
    assert filters.labels == ("vatten", "akut")
    assert filters.types == ("fråga",)
    assert filters.owners == ("none",)
    assert filters.customers == ("@kund.example",)
    assert (filters.since, filters.until) == (date(2026, 11, 1), date(2026, 12, 1))


def test_a_word_with_a_colon_that_is_no_key_is_a_word() -> None:
    assert parse_filters("kl:9 http://x.example").words == ("kl:9", "http://x.example")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("status:bråttom", "unknown status"),
        ("label:<script>", "label: letters"),
        ("customer:nobody", "customer: an address or a domain"),
        ("since:igår", "since: a date"),
        ("until:2026-11-30T12:00", "until: a date"),  # a time needs its zone
        ("owner:", "owner: give a value"),
        (" ".join(["ord"] * (MAX_WORDS + 1)), "at most 10 words"),
        (" ".join(["status:open"] * 11), "at most 10 values"),
    ],
)
def test_what_means_nothing_is_refused_with_why(text: str, why: str) -> None:
    with pytest.raises(BadFilter) as refused:
        parse_filters(text)
    assert why in str(refused.value)


def test_nothing_is_no_filter() -> None:
    assert parse_filters("  ").empty
    assert not parse_filters("status:open").empty


@given(st.text(max_size=300))
def test_any_line_gives_filters_or_says_why(text: str) -> None:
    try:
        filters = parse_filters(text)
    except BadFilter as refused:
        why = refused.phrase.render("sv")
        assert why
        return
    assert len(filters.words) <= MAX_WORDS
    assert all(word.strip() == word and word for word in filters.words)
    assert all(re.fullmatch(r"[\w/-]+", label) for label in filters.labels)
    assert all("@" in customer for customer in filters.customers)


@given(
    st.lists(
        st.sampled_from(
            ["status:", "label:", "owner:", "customer:", "since:", "typ:", "x", "\u200b"]
        ),
        max_size=12,
    ).map("".join),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
)
def test_keys_glued_to_anything_never_crash(keys: str, value: str) -> None:
    with contextlib.suppress(BadFilter):
        parse_filters(keys + value)


def test_dates_are_dates_and_times_keep_their_zone() -> None:
    filters = parse_filters("since:2026-11-01T08:00:00+00:00")
    assert filters.since == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert Filters().add("since", "2026-11-01").since == date(2026, 11, 1)
