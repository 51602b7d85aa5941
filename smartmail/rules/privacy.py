"""Reading the rules' `privacy:` section (see `smartmail.rules.retention` for what it means)."""

from __future__ import annotations

from typing import Any

from smartmail.rules.retention import Period, Privacy, Retention, parse_period
from smartmail.rules.yaml_lines import Checker

__all__ = ["read_privacy"]

_RETENTION_KEYS = tuple(Retention.__dataclass_fields__)


def read_privacy(check: Checker, value: Any) -> Privacy:
    """`privacy:` checked; each key may be left out for its default."""
    if value is None:
        return Privacy()
    section = check.mapping(value, "privacy", (), ("retention", "mask_stored", "contact")) or {}
    retention = _retention(check, section.get("retention"))
    mask = (
        check.boolean(section["mask_stored"], "privacy.mask_stored")
        if ("mask_stored" in section)
        else False
    )
    contact = ""
    if "contact" in section:
        contact = check.address(section["contact"], "privacy.contact") or ""
    return Privacy(retention, mask, contact)


def _retention(check: Checker, value: Any) -> Retention:
    if value is None:
        return Retention()
    given = check.mapping(value, "privacy.retention", (), _RETENTION_KEYS) or {}
    periods: dict[str, Period] = {}
    for key in _RETENTION_KEYS:
        if key not in given:
            continue
        raw = given[key]
        try:
            periods[key] = parse_period(str(raw) if isinstance(raw, str) else "")
        except ValueError:
            check.error(
                f"privacy.retention.{key}", f"bad period {raw!r}: write e.g. 24mo, 2y, 90d or 12w"
            )
    return Retention(**periods)
