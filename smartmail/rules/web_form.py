"""rules.yaml, `web_form`: the fault-report page's limits on files, sizes and posts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from smartmail.rules.model import RateLimit, WebForm
from smartmail.rules.yaml_lines import Checker

_KEYS = (
    "max_files",
    "max_file_mb",
    "max_total_mb",
    "min_fill_seconds",
    "per_client",
    "per_email",
)
_DEFAULT = WebForm()
MOST_FILES = 5  # the page never takes more, whatever the rules say


def read_web_form(check: Checker, value: Any) -> WebForm:
    """`web_form: {max_files: 5, max_file_mb: 8, ...}`; each key may be left out."""
    given = check.mapping(value, "web_form", (), _KEYS) or {}

    def number(key: str, minimum: int, maximum: int) -> int:
        default: int = getattr(_DEFAULT, key)
        found = check.integer(given.get(key, default), f"web_form.{key}", minimum)
        if found is not None and found > maximum:
            check.error(f"web_form.{key}", f"should be at most {maximum}, not {found}")
            return default
        return default if found is None else found

    max_file_mb = number("max_file_mb", 1, 100)
    max_total_mb = number("max_total_mb", 1, 100)
    if max_total_mb < max_file_mb:
        check.error("web_form.max_total_mb", "should be at least max_file_mb")
    return WebForm(
        max_files=number("max_files", 0, MOST_FILES),
        max_file_mb=max_file_mb,
        max_total_mb=max_total_mb,
        min_fill_seconds=number("min_fill_seconds", 0, 600),
        per_client=_rate(check, given, "per_client"),
        per_email=_rate(check, given, "per_email"),
    )


def _rate(check: Checker, given: dict[str, Any], key: str) -> RateLimit:
    """`per_client: {posts: 10, within: 1h}`."""
    default: RateLimit = getattr(_DEFAULT, key)
    if key not in given:
        return default
    path = f"web_form.{key}"
    section = check.mapping(given[key], path, ("posts", "within")) or {}
    posts = check.integer(section.get("posts", default.posts), f"{path}.posts", 1)
    within = check.duration(section.get("within", "1h"), f"{path}.within")
    if within is not None and within <= timedelta(0):
        check.error(f"{path}.within", "should be longer than 0m, e.g. 1h")
        within = None
    return RateLimit(posts or default.posts, within or default.within)
