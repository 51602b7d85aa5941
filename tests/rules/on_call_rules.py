"""The test rules with someone on call: people with phones, an urgent priority that pages."""

from __future__ import annotations

from tests.conftest import TEST_RULES

ON_CALL_RULES = (
    TEST_RULES.replace(
        "    escalate: [{after: 0h, to: forvaltare}]\n  - name: normal",
        "    notify: [mail, sms]\n"
        "    on_call: true\n"
        "    escalate: [{after: 15m, to: forvaltare}, {after: 30m, to: forvaltare}]\n"
        "  - name: normal",
    )
    .replace(
        "{email: kalle@bostad.example, name: Kalle Karlsson, role: staff}",
        '{email: kalle@bostad.example, name: Kalle Karlsson, role: staff, phone: "070-123 45 67"}',
    )
    .replace(
        "{email: lisa@bostad.example, name: Lisa Berg, role: staff}",
        "{email: lisa@bostad.example, name: Lisa Berg, role: staff, phone: +46 70 765 43 21}",
    )
    .replace(
        "{email: anna@bostad.example, name: Anna Ek, role: manager}",
        '{email: anna@bostad.example, name: Anna Ek, role: manager, phone: "0701112233"}',
    )
    + """\
on_call:
  hours: outside_business_hours
  rotation: {start: 2026-01-05, every: 1w, people: [kalle@bostad.example, lisa@bostad.example]}
  overrides: {2026-12-24: lisa@bostad.example}
"""
)
KALLE, LISA, ANNA = "+46701234567", "+46707654321", "+46701112233"
