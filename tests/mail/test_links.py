"""Links to follow a case: bound to the case, the customer and the moment, and unforgeable."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from smartmail.mail.links import follow_token, follow_url, read_follow_token

SECRET = b"s3cret"
NOW = datetime(2026, 11, 23, 9, 15, 7, tzinfo=UTC)


def test_a_token_names_its_case_and_moment_and_holds_for_its_customer_only() -> None:
    token = follow_token(12, "Eva@Kund.example", NOW, SECRET)
    found = read_follow_token(token)
    assert found is not None
    assert (found.number, found.issued) == (12, NOW)
    assert found.genuine_for("eva@kund.example", SECRET)
    assert not found.genuine_for("olle@kund.example", SECRET)
    assert not found.genuine_for("eva@kund.example", b"other")
    assert follow_url("https://x.example/", 12, "eva@kund.example", NOW, SECRET) == (
        f"https://x.example/case/{follow_token(12, 'eva@kund.example', NOW, SECRET)}"
    )


def test_an_altered_token_holds_for_nobody() -> None:
    token = follow_token(12, "eva@kund.example", NOW, SECRET)
    number, issued, signature = token.split("-")
    for altered in (
        f"13-{issued}-{signature}",
        f"{number}-{issued[:-1]}z-{signature}",
        f"{number}-{issued}-{signature[:-1]}{'b' if signature[-1] != 'b' else 'c'}",
    ):
        found = read_follow_token(altered)
        assert found is None or not found.genuine_for("eva@kund.example", SECRET)


def test_a_moment_out_of_any_calendar_is_no_token() -> None:
    assert read_follow_token("1-zzzzzzzz-" + "a" * 20) is None


@given(
    st.integers(0, 10**9),
    st.text("0123456789abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=9),
    st.text("abcdefghijklmnopqrstuvwxyz234567", min_size=20, max_size=20),
)
def test_any_token_shaped_text_is_read_or_refused_never_raises(
    number: int, issued: str, signature: str
) -> None:
    found = read_follow_token(f"{number}-{issued}-{signature}")
    if found is not None:
        assert not found.genuine_for("eva@kund.example", SECRET)


@given(st.text(max_size=80))
def test_any_text_is_read_or_refused_never_raises(text: str) -> None:
    found = read_follow_token(text)
    if found is not None:
        assert not found.genuine_for("eva@kund.example", SECRET)
