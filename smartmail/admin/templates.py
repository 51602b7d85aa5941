"""Checking the office's own templates: each file in the rules' `templates:` folder is
rendered with sample data, and what fails is told with its file and line."""

from __future__ import annotations

import difflib
import traceback
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale, UnknownLocaleError

from smartmail.admin.samples import contexts
from smartmail.errors import RuleProblem
from smartmail.mail.compose import TEMPLATE_DIRS, Templates


def shipped_names() -> list[str]:
    return sorted({p.stem for d in TEMPLATE_DIRS for p in (d / "en").glob("*.txt")})


def check_overrides(folder: Path, timezone: ZoneInfo) -> tuple[list[Path], list[RuleProblem]]:
    """The override files in `folder`, and every problem with them (empty: all render)."""
    files: list[Path] = []
    problems: list[RuleProblem] = []
    own = Templates([folder])  # the folder alone: a broken file must not hide behind ours
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_dir() or any(part.startswith(".") for part in relative.parts):
            continue
        problem = _misplaced(path, relative)
        if problem is None:
            files.append(path)
            problem = _render_problem(own, path, relative.parts[0], path.stem, timezone)
        if problem is not None:
            problems.append(problem)
    return files, problems


def _misplaced(path: Path, relative: Path) -> RuleProblem | None:
    """Why smartmail would never use this file, or None."""
    if len(relative.parts) != 2 or path.suffix != ".txt":
        return RuleProblem(str(path), 0, "", "not used: templates go in <language>/<name>.txt")
    try:
        Locale.parse(relative.parts[0])
    except (ValueError, UnknownLocaleError):
        return RuleProblem(str(path), 0, "", f"not used: {relative.parts[0]!r} is no language")
    names = shipped_names()
    if path.stem not in names:
        close = difflib.get_close_matches(path.stem, names, n=1)
        hint = f" (did you mean {close[0]}.txt?)" if close else f"; they are: {', '.join(names)}"
        return RuleProblem(str(path), 0, "", f"not used: no template is called {path.stem}{hint}")
    return None


def _render_problem(
    own: Templates, path: Path, language: str, name: str, timezone: ZoneInfo
) -> RuleProblem | None:
    for context in contexts(name, language, timezone):
        try:
            own.render(language, name, timezone, **context)
        except jinja2.TemplateSyntaxError as exc:
            return RuleProblem(str(path), exc.lineno, "", exc.message or str(exc))
        except Exception as exc:  # what a real mail would meet: the shipped one is sent instead
            return RuleProblem(str(path), _line_in(path, exc), "", _what(exc))
    return None


def _line_in(path: Path, exc: BaseException) -> int:
    """The template's line where rendering failed (jinja2 puts it in the traceback)."""
    lines = [
        f.lineno or 0 for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)
    ]
    if lines:
        return lines[-1]
    return 1 if "first line" in str(exc) else 0


def _what(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateError):
        message = exc.message or str(exc)
        return "the first line should be 'Subject: ...'" if "first line" in message else message
    return f"{type(exc).__name__}: {exc}"
