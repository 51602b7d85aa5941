"""Canned answers (`replies:` and `replies_dir:` in the rules): named texts staff send with
`#reply <name>`, rendered with the case.

    replies:
      tack: "Tack för ditt meddelande! Vi återkommer i ärende {{ number }}."
      nyckel:
        sv: |
          Hej {{ customer_name }}! Nya nycklar beställs hos {{ owner_name }}, klart senast
          {{ deadline }}.
        en: |
          Hello {{ customer_name }}! ...
    replies_dir: svar            # files <name>.<language>.txt, beside the rules file

A text is a jinja2 template, rendered in a sandbox (it may read only the values given:
`number`, `customer_name`, `deadline`, `owner_name`) and never as HTML. Every template is
compiled and rendered once when the rules load (`rules/replies_load.py`), so a mistake is
a problem of the rules file, with the file and the line (`rules.yaml:41:
replies.nyckel.sv: ...`, or `svar/nyckel.sv.txt:3: ...`), and the last good rules stay in
force.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import jinja2

LANGUAGES = ("sv", "en")
ANY_LANGUAGE = ""  # one text for every language
VALUES = ("number", "customer_name", "deadline", "owner_name")
# What `rules check` renders each text with.
SAMPLE = {
    "number": 4711,
    "customer_name": "Eva Lind",
    "deadline": "2026-11-24 16:00 CET",
    "owner_name": "Kalle Karlsson",
}
_MAX_VALUE = 200


@dataclass(frozen=True)
class Reply:
    name: str
    texts: Mapping[str, jinja2.Template]  # language (or ANY_LANGUAGE) -> template

    def template(self, language: str, fallback: str) -> jinja2.Template:
        for wanted in (language, ANY_LANGUAGE, fallback):
            if wanted in self.texts:
                return self.texts[wanted]
        return next(iter(self.texts.values()))


@dataclass(frozen=True)
class Replies:
    by_name: Mapping[str, Reply] = field(default_factory=dict)
    language: str = "sv"  # the rules' language: the text used when the reader's is missing

    def names(self) -> list[str]:
        return sorted(self.by_name)

    def find(self, name: str) -> Reply | None:
        """The answer called `name`, in any case (`Tack` is `tack`)."""
        wanted = name.strip().casefold()
        return next((r for key, r in self.by_name.items() if key.casefold() == wanted), None)

    def render(self, reply: Reply, language: str, values: Mapping[str, object]) -> str:
        """The answer's text in `language` with the case's values; each value one line of
        printable text (whatever a customer wrote in their name)."""
        clean = {key: _one_line(values.get(key, "")) for key in VALUES}
        return reply.template(language, self.language).render(clean).strip()


def _one_line(value: object) -> str | int:
    if isinstance(value, int):
        return value
    text = "".join(c if c.isprintable() else " " for c in str(value))
    return " ".join(text.split())[:_MAX_VALUE]
