"""Phone numbers as the SMS gateways want them: E.164 (`+46701234567`), read with the
`phonenumbers` library so that a Swedish `070-123 45 67` and `+46 70 123 45 67` are one."""

from __future__ import annotations

import phonenumbers

# A number written without a country code is read as one of this country's.
DEFAULT_REGION = "SE"


def e164(text: str, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164, or None when it is no valid phone number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
