"""The office's own templates (the rules' `templates:` folder) before the shipped ones.

`<folder>/<language>/<name>.txt` replaces the shipped template of that name in that
language; whatever the folder leaves out is the shipped one. An override that fails to
render (a typo, a name it does not get) never costs a mail: the shipped one is sent, and the
log says which file and why (`smartmail rules check` finds such a file before that).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from smartmail.mail.compose import TEMPLATE_DIRS, Rendered, Templates

log = logging.getLogger(__name__)


class OverriddenTemplates(Templates):
    """Templates looked up in `folder` first, then in the shipped folders."""

    def __init__(self, folder: Path, shipped: Templates) -> None:
        super().__init__([folder, *TEMPLATE_DIRS])
        self.folder = folder
        self.shipped = shipped

    def render(self, language: str, name: str, timezone: ZoneInfo, **context: Any) -> Rendered:
        try:
            return super().render(language, name, timezone, **context)
        except Exception as exc:  # whatever the office's file does wrong: send ours instead
            log.error(
                "template %s/%s in %s cannot be used (%s: %s); sending the shipped one",
                language,
                name,
                self.folder,
                type(exc).__name__,
                exc,
            )
            return self.shipped.render(language, name, timezone, **context)


def templates_for(shipped: Templates, folder: Path | None) -> Templates:
    """The templates to render with under rules whose `templates:` is `folder`."""
    return shipped if folder is None else _overridden(folder, shipped)


@functools.lru_cache(maxsize=8)
def _overridden(folder: Path, shipped: Templates) -> OverriddenTemplates:
    # One per folder: jinja2 then keeps each parsed file until it changes on disk.
    return OverriddenTemplates(folder, shipped)
