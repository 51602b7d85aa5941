"""The monthly invoicing basis by mail: last month's rows, a summary and the CSV attached.

On the first working morning of a month (later that month when the daemon was down then)
every manager gets the basis of the month before, and with `invoicing: {contractors: true}`
each contractor their own rows. Nobody gets an empty basis. The scheduler claims one key
per month and person, so each goes out once across restarts and concurrent sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from smartmail.desk import invoicing
from smartmail.mail import compose
from smartmail.rules.model import Rules

TEMPLATE = "invoicing_basis"


@dataclass(frozen=True)
class Month:
    """A calendar month in the rules' time zone, as the period [since, until) in UTC."""

    label: str  # 2026-11
    since: datetime
    until: datetime


def month_before(now: datetime, timezone: ZoneInfo) -> Month:
    local = now.astimezone(timezone).date()
    first = local.replace(day=1)
    before = (
        date(first.year - 1, 12, 1) if first.month == 1 else first.replace(month=first.month - 1)
    )
    return Month(
        before.strftime("%Y-%m"),
        datetime.combine(before, time(0), timezone),
        datetime.combine(first, time(0), timezone),
    )


def recipients(rules: Rules) -> list[tuple[str, str | None]]:
    """Who gets the basis: (address, None) for all rows, (address, address) for their own."""
    everyone: list[tuple[str, str | None]] = [(m.email, None) for m in rules.managers()]
    if rules.invoicing_contractors:
        everyone += [(p.email, p.email) for p in rules.people if p.role == "contractor"]
    return everyone


def basis_mail(
    rows: list[invoicing.BasisRow],
    month: Month,
    *,
    rules: Rules,
    templates: compose.Templates,
    language: str,
    identity: compose.Identity,
    to: str,
    own: bool,
    now: datetime,
) -> EmailMessage:
    """The text template with the summary, and the month's CSV attached."""
    timezone = rules.calendar.timezone
    names = {p.email: p.name for p in rules.people if p.name}
    rendered = templates.render(
        language,
        TEMPLATE,
        timezone,
        month=month.label,
        summary=invoicing.summary(rows, language, names),
        own=own,
        address=identity.address,
    )
    msg = compose.compose(identity, to=[to], rendered=rendered, now=now)
    name = "fakturaunderlag" if language == "sv" else "invoicing-basis"
    msg.add_attachment(
        invoicing.as_csv(rows, timezone),
        maintype="text",
        subtype="csv",
        filename=f"{name}-{month.label}.csv",
    )
    return msg
