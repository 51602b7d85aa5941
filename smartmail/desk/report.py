"""What one mail's commands changed, what was refused and why, and what was asked.

A Report holds phrases, not text: it is put into the reader's language when the
confirmation is composed (`in_language`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from smartmail.desk.commands import help_lines
from smartmail.mail.phrases import Phrase, render, render_all

Item = Phrase | str


@dataclass(frozen=True)
class Block:
    """The answer to a question (#mine, #case 7): a title, its lines, what to say if none."""

    title: Item
    lines: list[Item]
    empty: Item = ""

    def render(self, language: str) -> str:
        lines = render_all(self.lines, language)
        if not lines and self.empty:
            lines = [f"  ({render(self.empty, language)})"]
        return "\n".join([render(self.title, language), *lines])


@dataclass(frozen=True)
class Told:
    """A report as the reader reads it: lines of text in their language."""

    changes: list[str]
    problems: list[str]
    answers: list[str]
    help: list[str]


@dataclass
class Report:
    changes: list[Item] = field(default_factory=list)
    problems: list[Item] = field(default_factory=list)
    answers: list[Block] = field(default_factory=list)
    help_for: str = ""  # the sender's role, when they should see what they may write

    @property
    def empty(self) -> bool:
        return not (self.changes or self.problems or self.answers or self.help_for)

    def in_language(self, language: str) -> Told:
        return Told(
            render_all(self.changes, language),
            render_all(self.problems, language),
            [block.render(language) for block in self.answers],
            help_lines(self.help_for, language) if self.help_for else [],
        )

    def problem_text(self) -> str:
        """The problems in English, for the log and the outcome."""
        return "; ".join(render_all(self.problems, "en"))
