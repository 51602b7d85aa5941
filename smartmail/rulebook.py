"""The rules in force: loaded from rules.yaml, reloaded when it changes, last good kept on error."""

from __future__ import annotations

import logging
from pathlib import Path

from smartmail.errors import RulesError
from smartmail.rules import Rules, default_rules, load_rules

log = logging.getLogger(__name__)


class RuleBook:
    """Callable: `book()` gives the rules in force. A broken file never replaces good rules."""

    def __init__(self, path: Path, fallback_address: str | None = None) -> None:
        self.path = path
        self.fallback_address = fallback_address or "support@localhost"
        self.problem: RulesError | None = None  # the error of the newest file, if it is broken
        self._stamp: tuple[float, int] | None = None
        self._rules = self._first_load()

    def __call__(self) -> Rules:
        return self._rules

    def _first_load(self) -> Rules:
        if not self.path.exists():
            log.warning("no rules file at %s: using built-in defaults", self.path)
            return default_rules(self.fallback_address)
        self._stamp = self._file_stamp()
        return load_rules(self.path)  # at start a broken file is fatal: nothing good to keep

    def _file_stamp(self) -> tuple[float, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime, stat.st_size)

    def reload(self, force: bool = False) -> bool:
        """Load the file again if it changed (or when forced); True when new rules took effect."""
        stamp = self._file_stamp()
        if stamp is None or (stamp == self._stamp and not force):
            return False
        self._stamp = stamp
        try:
            rules = load_rules(self.path)
        except RulesError as exc:
            self.problem = exc
            log.error("rules not reloaded, the last good rules stay in force:\n%s", exc)
            return False
        self.problem = None
        self._rules = rules
        log.info("rules reloaded from %s", self.path)
        return True
