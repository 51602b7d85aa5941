"""The one address a mail we send goes to: a single addr-spec, checked, or refused.

A recipient is never taken from a header's text: `"x,evil@evil.example,y"@kund.example`
is one address to a parser but three to anything that splits at commas, so quoted local
parts, display names, groups and lists are refused here, not sent to. The syntax (RFC 5322
dot-atom, RFC 6531 UTF-8, IDNA domains, lengths) is email-validator's; nothing is looked
up in DNS.
"""

from __future__ import annotations

import functools

from email_validator import EmailNotValidError, validate_email

from smartmail.errors import MailRefused


@functools.lru_cache(maxsize=4096)  # the same staff and customers are mailed again and again
def recipient(text: str) -> str:
    """`text` if it is exactly one valid address (`eva@kund.example`); else MailRefused."""
    if not text or text != text.strip():
        raise MailRefused(f"not one address: {text!r}")
    try:
        validate_email(
            text,
            allow_smtputf8=True,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            check_deliverability=False,
            globally_deliverable=False,
            test_environment=True,
        )
    except EmailNotValidError as exc:
        raise MailRefused(f"not one valid address: {text!r}: {exc}") from None
    return text
