from dataclasses import replace

from smartmail.mail.proof import authentication_passes, prove_sender
from smartmail.mail.tokens import reply_address
from tests.mail.test_guard import mail

SECRET = b"s"
OWN = frozenset({"support@example.org"})


def test_a_reply_address_made_for_the_sender_proves_them() -> None:
    address = reply_address("support@example.org", 4, "kalle@example.org", SECRET)
    proof = prove_sender(mail("kalle@example.org"), (address,), OWN, SECRET)
    assert proof.ok
    assert proof.case_number == 4


def test_the_from_header_alone_proves_nothing() -> None:
    assert not prove_sender(mail("kalle@example.org"), ("support@example.org",), OWN, SECRET).ok
    someone_elses = reply_address("support@example.org", 4, "lisa@example.org", SECRET)
    proof = prove_sender(mail("kalle@example.org"), (someone_elses,), OWN, SECRET)
    assert not proof.ok
    assert "not made for this sender" in proof.reason


def test_the_trusted_mta_must_see_dkim_or_spf_pass_when_the_rules_ask() -> None:
    address = reply_address("support@example.org", 4, "kalle@example.org", SECRET)
    passing = replace(
        mail("kalle@example.org"),
        headers={
            "authentication-results": "mx.example.org; dkim=pass header.d=example.org; "
            "spf=fail smtp.mailfrom=kalle@example.org"
        },
    )
    assert prove_sender(passing, (address,), OWN, SECRET, "mx.example.org").ok
    assert not prove_sender(mail("kalle@example.org"), (address,), OWN, SECRET, "mx.example.org").ok


def test_authentication_results_from_another_server_do_not_count() -> None:
    header = "evil.example; dkim=pass header.d=example.org"
    assert not authentication_passes(header, "mx.example.org", "kalle@example.org")
    assert authentication_passes(
        "mx.example.org; spf=pass smtp.mailfrom=kalle@example.org",
        "mx.example.org",
        "kalle@example.org",
    )
    assert not authentication_passes(
        "mx.example.org; dkim=pass header.d=other.example", "mx.example.org", "kalle@example.org"
    )


def test_a_lookalike_domain_does_not_pass() -> None:
    header = "mx.example.org; dkim=pass header.d=example.org.evil.com"
    assert not authentication_passes(header, "mx.example.org", "kalle@example.org")
