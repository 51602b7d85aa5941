"""The rules file's YAML, read so that every problem can say file, line and key path.

``read_yaml`` turns the text into plain data and remembers the line of every key path;
a ``Checker`` reads typed values out of that data and collects each problem, with its
line and path (``categories[0].groups[1].priority``), instead of stopping at the first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import yaml

from smartmail.errors import RuleProblem
from smartmail.rules.model import _duration_parts

_BOOL_TAG = "tag:yaml.org,2002:bool"
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class YamlTree:
    """Turns a composed YAML node tree into plain data, remembering each key path's line.

    Scalars follow YAML 1.2 where YAML 1.1 surprises: ``NO``, ``on``, ``yes`` stay text
    (only true/false are booleans) and ``07:00`` stays text instead of becoming 420.
    """

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[str, int] = {}
        self.duplicates: list[tuple[str, int, str]] = []  # (path, line, message)
        self._stack: set[int] = set()

    def build(self, node: yaml.Node, path: str) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self._stack:
            self.duplicates.append((path, node.start_mark.line + 1, "an alias refers to itself"))
            return None
        self._stack.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            return self._scalar(node)
        finally:
            self._stack.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(self._scalar(key_node)) if isinstance(key_node, yaml.ScalarNode) else "?"
            sub = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in out:
                first = self.lines.get(sub, 0)
                message = f'key "{key}" given twice (first at line {first})'
                self.duplicates.append((sub, line, message))
                continue
            self.lines[sub] = line
            out[key] = self.build(value_node, sub)
        return out

    def _scalar(self, node: yaml.Node) -> Any:
        text = str(node.value)
        if node.tag == _BOOL_TAG and text.lower() not in ("true", "false"):
            return text
        if node.tag in _NUMBER_TAGS and ":" in text:
            return text
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, yaml.YAMLError):
            return text


def read_yaml(text: str) -> tuple[Any, YamlTree]:
    """Raises yaml.YAMLError on a syntax error."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        tree = YamlTree(loader)
        data = tree.build(node, "") if node is not None else None
        return data, tree
    finally:
        loader.dispose()


def yaml_problem(source: str, error: yaml.YAMLError, text: str) -> RuleProblem:
    """A YAML syntax error as a problem at the line and key path where the parser gave up."""
    if not isinstance(error, yaml.MarkedYAMLError):
        return RuleProblem(source, 0, "", f"YAML syntax error: {error}")
    mark = error.problem_mark or error.context_mark
    words = "; ".join(str(w) for w in (error.context, error.problem) if w)
    column = f" (column {mark.column + 1})" if mark is not None else ""
    line = mark.line + 1 if mark is not None else 0
    return RuleProblem(source, line, path_at_error(text), f"YAML syntax error: {words}{column}")


class _Open:
    """A mapping or list the parser is inside: its current key or item."""

    def __init__(self, mapping: bool) -> None:
        self.mapping = mapping
        self.key: str | None = None
        self.wants_key = mapping
        self.index = -1

    def place(self) -> str:
        if self.mapping:
            return f".{self.key}" if self.key is not None else ""
        return f"[{self.index}]" if self.index >= 0 else ""


def path_at_error(text: str) -> str:
    """The key path (``priorities[1].resolve_within``) the parser was in when it gave up,
    from the events it produced up to there: a syntax error names its key too."""
    inside: list[_Open] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionEndEvent):
                inside.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue  # stream and document events
            around = inside[-1] if inside else None
            if around is not None and around.mapping:
                if around.wants_key:
                    around.key = str(event.value) if isinstance(event, yaml.ScalarEvent) else "?"
                    around.wants_key = False
                    if not isinstance(event, yaml.CollectionStartEvent):
                        continue
                else:
                    around.wants_key = True  # this node is the value
            elif around is not None:
                around.index += 1
            if isinstance(event, yaml.CollectionStartEvent):
                inside.append(_Open(isinstance(event, yaml.MappingStartEvent)))
    except yaml.YAMLError:
        pass
    return "".join(frame.place() for frame in inside).lstrip(".")


_PARENT_RE = re.compile(r"(\.[^.\[]*|\[\d+\])$")


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number"}
    return names.get(type(value), "empty" if value is None else type(value).__name__)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


class Checker:
    """Collects problems; small typed readers for the values of the rules file."""

    def __init__(self, file: str, lines: dict[str, int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[RuleProblem] = []

    def line(self, path: str) -> int:
        while path:
            if path in self.lines:
                return self.lines[path]
            parent = _PARENT_RE.sub("", path)
            path = "" if parent == path else parent
        return self.lines.get("", 1)

    def error(self, path: str, message: str) -> None:
        self.problems.append(RuleProblem(self.file, self.line(path), path, message))

    def free_mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        """A mapping whose keys are names chosen by the admin."""
        if isinstance(value, dict):
            return value
        self.error(path, f"should be a mapping (key: value), not {_kind(value)}")
        return None

    def mapping(
        self,
        value: Any,
        path: str,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, f"should be a mapping (key: value), not {_kind(value)}")
            return None
        allowed = (*required, *optional)
        for key in value:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                self.error(join_path(path, key), f'unknown key "{key}"{hint}')
        for key in required:
            if key not in value:
                self.error(join_path(path, key), f'missing required key "{key}"')
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(path, f"should be a list, not {_kind(value)}")
            return []
        return value

    def text(self, value: Any, path: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.error(path, f"should be non-empty text, not {_kind(value)}")
        return None

    def texts(self, value: Any, path: str) -> list[str]:
        """One text or a list of texts."""
        if isinstance(value, str):
            return [t] if (t := self.text(value, path)) else []
        items = self.items(value, path)
        return [t for i, v in enumerate(items) if (t := self.text(v, f"{path}[{i}]"))]

    def address(self, value: Any, path: str) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        if "@" not in text.strip("@") or " " in text:
            self.error(path, f'"{text}" is not an email address')
            return None
        return text.lower()

    def addresses(self, value: Any, path: str) -> tuple[str, ...]:
        """One address or a list of addresses, lower case."""
        if isinstance(value, str):
            found = self.address(value, path)
            return (found,) if found else ()
        items = self.items(value, path)
        return tuple(a for i, v in enumerate(items) if (a := self.address(v, f"{path}[{i}]")))

    def choice(self, value: Any, path: str, choices: tuple[str, ...], what: str) -> str | None:
        if value in choices:
            return str(value)
        options = ", ".join(choices)
        self.error(path, f"unknown {what} {value!r}: use one of {options}")
        return None

    def duration(self, value: Any, path: str, business: bool = False) -> timedelta | None:
        if value == 0 and not isinstance(value, bool):
            return timedelta(0)
        parts = _duration_parts(value) if isinstance(value, str) else None
        if parts is None:
            self.error(path, f"bad duration {value!r}: write e.g. 30m, 4h, 3d or 1d12h")
            return None
        days, hours, minutes = parts
        if business and hours * 60 + minutes >= 24 * 60:
            self.error(
                path,
                f"{value!r} with clock business_hours: hours and minutes must stay below 24h; "
                "write whole working days as d (e.g. 1d4h)",
            )
            return None
        return timedelta(days=days, hours=hours, minutes=minutes)

    def integer(self, value: Any, path: str, minimum: int = 0) -> int | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
            return value
        self.error(path, f"should be a whole number >= {minimum}, not {value!r}")
        return None

    def boolean(self, value: Any, path: str) -> bool:
        if isinstance(value, bool):
            return value
        self.error(path, f"should be true or false, not {value!r}")
        return False
