import pytest

from smartmail.mail.tokens import (
    base_address,
    case_token,
    find_case_number,
    parse_reply_address,
    reply_address,
    tokenized_subject,
)

SECRET = b"unit-secret"


def test_a_token_names_its_case() -> None:
    assert find_case_number(f"Ärende mottaget {case_token(42, SECRET)}", SECRET) == 42


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: f"Re: {s}",
        lambda s: f"SV: SV: {s}",
        lambda s: f"AW: {s}",
        lambda s: f"VS: {s}",
        lambda s: f"Fwd: {s}",
        lambda s: f"[EXTERNAL] RE: {s}",
        lambda s: s.upper(),
        lambda s: s.lower(),
        lambda s: s.replace(" ", "\r\n "),  # folded by a gateway, unfolded by the parser
        lambda s: f"{s} - tack för snabbt svar!",
        lambda s: s.replace("[", "[ ").replace("]", " ]"),
    ],
)
def test_tokens_survive_what_clients_do_to_subjects(mangle: object) -> None:
    subject = tokenized_subject("Stopp i avloppet", 7, SECRET)
    mangled = mangle(subject)  # type: ignore[operator]
    assert find_case_number(" ".join(mangled.split()), SECRET) == 7


def test_a_forged_or_altered_token_is_not_trusted() -> None:
    genuine = case_token(7, SECRET)
    assert find_case_number(genuine.replace("#7-", "#8-"), SECRET) is None
    assert find_case_number("[#7-aaaaaaaa]", SECRET) is None
    assert find_case_number(genuine, b"another-secret") is None


def test_the_first_genuine_token_wins_over_forged_ones() -> None:
    subject = f"[#9-aaaaaaaa] Re: {case_token(3, SECRET)}"
    assert find_case_number(subject, SECRET) == 3


def test_tokenized_subject_carries_one_token() -> None:
    once = tokenized_subject("Hej", 5, SECRET)
    assert tokenized_subject(once, 5, SECRET) == once


def test_a_reply_address_proves_case_and_person() -> None:
    address = reply_address("support@example.org", 12, "Kalle@Example.org", SECRET)
    parsed = parse_reply_address(address.upper())
    assert parsed is not None
    assert parsed.base == "support@example.org"
    assert parsed.number == 12
    assert parsed.proves("kalle@example.org", SECRET)
    assert not parsed.proves("mallory@example.org", SECRET)
    assert parse_reply_address("support@example.org") is None
    assert base_address(address) == "support@example.org"
