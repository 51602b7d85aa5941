"""What one mail's commands changed, what was refused and why, and what was asked."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    help: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.changes or self.problems or self.answers or self.help)
