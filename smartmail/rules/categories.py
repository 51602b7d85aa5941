"""rules.yaml, `categories`: what each group matches, and who receives it at what priority."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from smartmail.rules.model import AREA, Group, Match, _fold, _rule_tokens, clean_label
from smartmail.rules.people import Directory
from smartmail.rules.yaml_lines import Checker, did_you_mean

_MATCH_KEYS = ("any", "all", "subject", "from", "to")
_EXTRA_KEYS = ("type", "labels", "fallback")
_CATEGORY_KEYS = (
    "default",
    "groups",
    "match",
    "recipient",
    "priority",
    "note",
    "form",
    *_EXTRA_KEYS,
)
_GROUP_KEYS = ("recipient", "priority", "note", *_EXTRA_KEYS)


@dataclass
class _Target:
    """Recipient and priority of a rule (possibly inherited from its category).

    None = not given; "" = given but wrong (already reported)."""

    recipient: str | None
    priority: str | None
    note: str
    type: str | None = None
    labels: tuple[str, ...] = ()
    fallback: str = ""  # with recipient AREA


class CategoryReader:
    def __init__(
        self,
        check: Checker,
        directory: Directory,
        priorities: set[str],
        types: tuple[str, ...] = (),
    ) -> None:
        self.check = check
        self.directory = directory
        self.priorities = priorities
        self.types = types
        self.groups: list[Group] = []
        self.catch_all: list[Group] = []
        self.default_path: str | None = None
        self.seen: dict[tuple[str, str], int] = {}
        self.form_categories: list[str] = []  # `form: true`: offered on the fault-report page

    def read(self, value: Any) -> tuple[Group, ...]:
        items = self.check.items(value, "categories")
        for i, item in enumerate(items):
            self._category(item, f"categories[{i}]")
        if value is not None and self.default_path is None:
            self.check.error("categories", "no category has default: true (one must take the rest)")
        return (*self.groups, *self.catch_all)

    def _category(self, item: Any, path: str) -> None:
        data = self.check.mapping(item, path, ("name",), _CATEGORY_KEYS)
        if data is None or "name" not in data:
            return
        name = self.check.text(data["name"], f"{path}.name")
        if name is None:
            return
        self._unique(name, "", path)
        if "form" in data and self.check.boolean(data["form"], f"{path}.form"):
            self.form_categories.append(name)
        own = self._target(data, path, _Target(None, None, ""))
        if "default" in data and self.check.boolean(data["default"], f"{path}.default"):
            self._default(name, data, path, own)
            self._groups(name, data.get("groups"), f"{path}.groups", own)
            return
        self._groups(name, data.get("groups"), f"{path}.groups", own)
        if "match" in data or "groups" not in data:
            self._rule(name, "", data, path, own)

    def _default(self, name: str, data: dict[str, Any], path: str, own: _Target) -> None:
        if self.default_path is not None:
            first = self.check.line(self.default_path)
            self.check.error(
                f"{path}.default", f"a second default category (first at line {first})"
            )
            return
        self.default_path = path
        if "match" in data:
            self.check.error(f"{path}.match", "the default category takes the rest: no match")
        for key in ("recipient", "priority"):
            if key not in data:
                self.check.error(f"{path}.{key}", f'missing required key "{key}"')
        if own.recipient and own.priority:
            line = self.check.line(path)
            self.catch_all.append(_group(name, "", None, own, line))

    def _groups(self, category: str, value: Any, path: str, inherited: _Target) -> None:
        items = self.check.items(value, path)
        if value is not None and not items:
            self.check.error(path, "an empty list of groups")
        for j, item in enumerate(items):
            sub = f"{path}[{j}]"
            data = self.check.mapping(item, sub, ("name", "match"), _GROUP_KEYS)
            if data is None or "name" not in data:
                continue
            name = self.check.text(data["name"], f"{sub}.name")
            if name is not None:
                self._unique(category, name, sub)
                self._rule(category, name, data, sub, inherited)

    def _rule(
        self, category: str, name: str, data: dict[str, Any], path: str, inherited: _Target
    ) -> None:
        """A group (or a rule written on a category): needs a match, recipient and priority."""
        target = self._target(data, path, inherited) if name else inherited
        if "match" not in data and not name:  # a group's own mapping check reports it
            self.check.error(f"{path}.match", 'missing required key "match"')
        for key in ("recipient", "priority"):
            if key not in data and getattr(target, key) is None:
                self.check.error(f"{path}.{key}", f'missing required key "{key}"')
        match = self._match(data["match"], f"{path}.match") if "match" in data else None
        if match is None or not target.recipient or not target.priority:
            return
        self.groups.append(_group(category, name, match, target, self.check.line(path)))

    def _target(self, data: dict[str, Any], path: str, inherited: _Target) -> _Target:
        recipient, priority = inherited.recipient, inherited.priority
        fallback = inherited.fallback
        if "recipient" in data:
            recipient, fallback = self._recipient(data, path)
        elif "fallback" in data:
            self.check.error(f"{path}.fallback", "a fallback goes with recipient: area")
        if "priority" in data:
            priority = self._priority_name(data["priority"], f"{path}.priority") or ""
        note = self.check.text(data["note"], f"{path}.note") if "note" in data else None
        kind = self._type(data["type"], f"{path}.type") if "type" in data else inherited.type
        labels = self._labels(data["labels"], f"{path}.labels") if "labels" in data else ()
        return _Target(
            recipient,
            priority,
            note or inherited.note,
            kind,
            tuple(dict.fromkeys((*inherited.labels, *labels))),
            fallback,
        )

    def _recipient(self, data: dict[str, Any], path: str) -> tuple[str, str]:
        """(recipient, fallback): a person or team; or `area` with a fallback beside it."""
        if data["recipient"] != AREA:
            if "fallback" in data:
                self.check.error(f"{path}.fallback", "a fallback goes with recipient: area")
            found = self.directory.target(data["recipient"], f"{path}.recipient", "recipient")
            return found or "", ""
        if "fallback" not in data:
            self.check.error(
                f"{path}.fallback", "recipient: area needs a fallback (a team or person)"
            )
            return "", ""
        fallback = self.directory.target(data["fallback"], f"{path}.fallback", "fallback")
        return (AREA, fallback) if fallback else ("", "")

    def _type(self, value: Any, path: str) -> str | None:
        name = self.check.text(value, path)
        if name is not None and name not in self.types:
            hint = did_you_mean(name, self.types)
            known = ", ".join(self.types) or "none: add a types: list"
            self.check.error(path, f'unknown type "{name}" (types: {known}){hint}')
            return None
        return name

    def _labels(self, value: Any, path: str) -> tuple[str, ...]:
        labels: list[str] = []
        for i, text in enumerate(self.check.texts(value, path)):
            label = clean_label(text)
            if label is None:
                self.check.error(f"{path}[{i}]", f'"{text}": letters, digits, -, _ and / only')
            else:
                labels.append(label)
        return tuple(labels)

    def _priority_name(self, value: Any, path: str) -> str | None:
        name = self.check.text(value, path)
        if name is not None and name not in self.priorities:
            hint = did_you_mean(name, self.priorities)
            self.check.error(path, f'unknown priority "{name}"{hint}')
            return None
        return name

    def _unique(self, category: str, group: str, path: str) -> None:
        key = (category, group)
        if key in self.seen:
            what = f'group "{group}"' if group else f'category "{category}"'
            self.check.error(f"{path}.name", f"{what} given twice (first at line {self.seen[key]})")
        self.seen.setdefault(key, self.check.line(path))

    def _match(self, value: Any, path: str) -> Match | None:
        data = self.check.mapping(value, path, optional=_MATCH_KEYS)
        if data is None:
            return None
        known = len(self.check.problems)
        subject = self._regex(data["subject"], f"{path}.subject") if "subject" in data else None
        match = Match(
            any=self._words(data.get("any"), f"{path}.any"),
            all=self._words(data.get("all"), f"{path}.all"),
            subject=subject,
            from_=self._senders(data.get("from"), f"{path}.from"),
            to=self.check.addresses(data.get("to"), f"{path}.to"),
        )
        empty = not (match.any or match.all or match.subject or match.from_ or match.to)
        if empty and len(self.check.problems) == known:
            self.check.error(path, "an empty match: give any, all, subject, from or to")
        return None if empty else match

    def _words(self, value: Any, path: str) -> tuple[str, ...]:
        words: list[str] = []
        for i, text in enumerate(self.check.texts(value, path)):
            if not _rule_tokens(text):
                self.check.error(f"{path}[{i}]", f'"{text}" has no letters or digits')
            else:
                words.append(" ".join(_fold(text).split()))
        return tuple(words)

    def _regex(self, value: Any, path: str) -> re.Pattern[str] | None:
        text = self.check.text(value, path)
        if text is None:
            return None
        try:
            return re.compile(text, re.IGNORECASE)
        except re.error as error:
            self.check.error(path, f"bad regular expression {text!r}: {error}")
            return None

    def _senders(self, value: Any, path: str) -> tuple[str, ...]:
        senders: list[str] = []
        for i, text in enumerate(self.check.texts(value, path)):
            ok = "@" in text and " " not in text and not text.endswith("@")
            if ok:
                senders.append(text.lower())
            else:
                self.check.error(f"{path}[{i}]", f'"{text}" is neither an address nor an @domain')
        return tuple(senders)


def _group(category: str, name: str, match: Match | None, target: _Target, line: int) -> Group:
    assert target.recipient
    assert target.priority
    return Group(
        category,
        name,
        match,
        target.recipient,
        target.priority,
        line,
        target.note,
        target.type,
        target.labels,
        target.fallback,
    )
