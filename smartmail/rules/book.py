"""The rules in force: loaded from rules.yaml, reloaded when it changes, last good kept on error.

A copy of the last file that loaded cleanly is kept in the data dir, so that a daemon
restarted after a bad edit still runs on good rules instead of refusing to start.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from smartmail.errors import RuleProblem, RulesError
from smartmail.rules.load import load_rules, rules_from_text
from smartmail.rules.model import Rules, default_rules

log = logging.getLogger(__name__)

# A broken version is reported only when it reads the same twice this far apart: an editor
# that is saving leaves the file empty or half written for a moment. Our own monotonic clock
# judges this, not the file's mtime, which a shared or virtual file system may set from a
# clock of its own.
SETTLE_SECONDS = 1.0


class RuleBook:
    """Callable: `book()` gives the rules in force. A broken file never replaces good rules."""

    def __init__(
        self,
        path: Path,
        data_dir: Path | None = None,
        fallback_address: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.last_good = data_dir / "rules.last-good.yaml" if data_dir else None
        self.fallback_address = fallback_address or "support@localhost"
        self.problem: RulesError | None = None  # why the newest file is not in force
        self.problem_digest = ""  # identifies the broken file version, to report it once
        self._digest = ""  # of the version last read
        self._clock = clock
        self._failing: tuple[str, float] | None = None  # a failing version, when first read
        self._rules = self._first_load()

    def __call__(self) -> Rules:
        return self._rules

    def _first_load(self) -> Rules:
        if not self.path.exists():
            log.warning("no rules file at %s: using built-in defaults", self.path)
            return default_rules(self.fallback_address)
        try:
            return self._load(self._read())
        except RulesError as exc:
            if self.last_good is None or not self.last_good.exists():
                raise  # nothing good to fall back on: refuse to start
            self._note_problem(exc)
            log.error("%s is broken; running on the last good copy %s", self.path, self.last_good)
            return load_rules(self.last_good, base=self.path.parent)  # replies_dir: beside it

    def _read(self) -> bytes:
        """The file's bytes, once: what is checked, kept and reported is one version."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            problem = RuleProblem(str(self.path), 0, "", f"cannot read the file: {exc}")
            self._digest = "unreadable"
            raise RulesError([problem]) from exc
        self._digest = hashlib.sha256(data).hexdigest()
        return data

    def _load(self, data: bytes) -> Rules:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = RuleProblem(str(self.path), 0, "", f"not UTF-8 text: {exc}")
            raise RulesError([problem]) from exc
        rules = rules_from_text(text, str(self.path))
        if self.last_good is not None:
            self.last_good.write_bytes(data)
        self.problem, self.problem_digest = None, ""
        return rules

    def _note_problem(self, exc: RulesError) -> None:
        self.problem, self.problem_digest = exc, self._digest

    def take_unreported_problem(self) -> RulesError | None:
        """The current problem if nobody was told of this broken version yet; marks it told."""
        if self.problem is None:
            return None
        marker = self.last_good.with_name("rules.problem-reported") if self.last_good else None
        if marker is not None and marker.exists() and marker.read_text() == self.problem_digest:
            return None
        if marker is not None:
            marker.write_text(self.problem_digest)
        return self.problem

    def reload(self, force: bool = False) -> bool:
        """Load the file again if its content changed (or when forced); True when new rules
        took effect. The content, not the mtime, tells a change: a file system may keep
        coarse times, and an editor may save the same size twice within one tick."""
        if not self.path.exists():
            return False  # gone for a moment (a save by rename), or for good: keep the rules
        seen = self._digest
        try:
            data = self._read()
            if self._digest == seen and not force and not self._unsettled():
                return False
            self._rules = self._load(data)
        except RulesError as exc:
            if not self._failed_settled():
                return False  # maybe caught mid-save: looked at again next time
            self._note_problem(exc)
            log.error("rules not reloaded, the last good rules stay in force:\n%s", exc)
            return False
        self._failing = None
        log.info("rules reloaded from %s", self.path)
        return True

    def _unsettled(self) -> bool:
        """Is the version read a failing one that nobody was told of yet?"""
        return self._failing is not None and self.problem_digest != self._digest

    def _failed_settled(self) -> bool:
        """True when the version just read failed, unchanged, for SETTLE_SECONDS or more."""
        now = self._clock()
        if self._failing is None or self._failing[0] != self._digest:
            self._failing = (self._digest, now)
        return now - self._failing[1] >= SETTLE_SECONDS
