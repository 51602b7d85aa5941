"""Reading `replies:` and `replies_dir:` of the rules into canned answers (rules/replies.py):
each text compiled in jinja2's sandbox and rendered once with sample values, a mistake
reported at its file and line."""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from smartmail.errors import RuleProblem
from smartmail.rules.replies import ANY_LANGUAGE, LANGUAGES, SAMPLE, VALUES, Replies, Reply
from smartmail.rules.yaml_lines import Checker

_NAME = re.compile(r"^[\w-]{1,64}$")
_FILE = re.compile(r"^(?P<name>[\w-]{1,64})\.(?P<language>[a-z]{2})\.txt$")
_MAX_TEXT = 20_000  # a canned answer is a mail's text, not a book


class ReplyReader:
    """Reads `replies:` and `replies_dir:` into Replies; problems go to the checker."""

    def __init__(self, check: Checker, base: Path, language: str) -> None:
        self.check = check
        self.base = base  # what a relative `replies_dir` is relative to: the rules' folder
        self.language = language
        self.env = ImmutableSandboxedEnvironment(
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain text mail
            keep_trailing_newline=False,
        )
        self.found: dict[str, dict[str, jinja2.Template]] = {}

    def read(self, inline: Any, folder: Any) -> Replies:
        if inline is not None:
            self._inline(inline)
        if folder is not None:
            self._folder(folder)
        built = {name: Reply(name, texts) for name, texts in self.found.items() if texts}
        return Replies(built, self.language)

    def _inline(self, value: Any) -> None:
        given = self.check.free_mapping(value, "replies") or {}
        for name, texts in given.items():
            path = f"replies.{name}"
            if not _NAME.match(str(name)):
                self.check.error(path, "a name is letters, digits, - and _ (at most 64)")
                continue
            if isinstance(texts, str):
                self._add(str(name), ANY_LANGUAGE, texts, path)
                continue
            per_language = self.check.mapping(texts, path, (), LANGUAGES) or {}
            if not per_language and isinstance(texts, dict):
                self.check.error(path, "give a text, or one per language: {sv: ..., en: ...}")
            for language, text in per_language.items():
                if language in LANGUAGES:
                    self._add(str(name), language, text, f"{path}.{language}")

    def _add(self, name: str, language: str, text: Any, path: str) -> None:
        source = self.check.text(text, path)
        if source is None:
            return
        where = (self.check.file, self.check.line(path), path)
        # A text on lines of its own (`|`) starts on the line after its key.
        template = self._compiled(source, where, first_line_below="\n" in source)
        if template is not None:
            self.found.setdefault(name, {})[language] = template

    def _folder(self, value: Any) -> None:
        given = self.check.text(value, "replies_dir")
        if given is None:
            return
        folder = Path(given) if Path(given).is_absolute() else self.base / given
        try:
            files = sorted(folder.iterdir())
        except OSError as exc:
            self.check.error("replies_dir", f"cannot read the folder {folder}: {exc.strerror}")
            return
        for path in files:
            match = _FILE.match(path.name)
            if match is None or match["language"] not in LANGUAGES:
                continue
            self._file(path, match["name"], match["language"])

    def _file(self, path: Path, name: str, language: str) -> None:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.check.problems.append(RuleProblem(str(path), 0, "", f"cannot read: {exc}"))
            return
        if name in self.found and language in self.found[name]:
            self.check.problems.append(
                RuleProblem(str(path), 1, "", f"{name} in {language} is in the rules too")
            )
            return
        template = self._compiled(source, (str(path), 0, ""), first_line_below=True)
        if template is not None:
            self.found.setdefault(name, {})[language] = template

    def _compiled(
        self, source: str, where: tuple[str, int, str], first_line_below: bool
    ) -> jinja2.Template | None:
        """The template, compiled and rendered once with sample values; None on a mistake,
        which is reported at its line in the file."""
        file, line, key = where
        offset = line if first_line_below else line - 1 if line else 0
        if len(source) > _MAX_TEXT:
            self.check.problems.append(
                RuleProblem(file, line or 1, key, f"longer than {_MAX_TEXT} characters")
            )
            return None
        try:
            template = self.env.from_string(source)
            template.render(SAMPLE)
        except jinja2.TemplateSyntaxError as exc:
            self._problem(file, offset + (exc.lineno or 1), key, exc.message or str(exc))
            return None
        except Exception as exc:  # what rendering raised: an unknown value, a bad filter
            lineno = _template_line(exc.__traceback__)
            self._problem(file, offset + lineno, key, f"{type(exc).__name__}: {exc}")
            return None
        return template

    def _problem(self, file: str, line: int, key: str, message: str) -> None:
        known = ", ".join(VALUES)
        self.check.problems.append(
            RuleProblem(file, line, key, f"template: {message} (values: {known})")
        )


def _template_line(trace: TracebackType | None) -> int:
    """The template's line a rendering error came from (jinja2 puts the template's lines
    into the traceback as frames of a file named `<template>`); 1 when none is found."""
    line = 1
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line
