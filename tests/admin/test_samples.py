"""Every shipped template renders with the sample data, so an office's copy of it can be
checked against the same values (a new template needs its values in admin/samples.py)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from smartmail.admin.templates import check_overrides
from smartmail.mail.compose import TEMPLATE_DIRS


@pytest.mark.parametrize("folder", TEMPLATE_DIRS)
def test_the_shipped_templates_pass_their_own_check(folder: object) -> None:
    files, problems = check_overrides(folder, ZoneInfo("Europe/Stockholm"))  # type: ignore[arg-type]
    assert problems == []
    assert len(files) >= 2 * 19
