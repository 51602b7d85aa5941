import os
from pathlib import Path

import pytest

from smartmail.errors import RulesError
from smartmail.rules.book import SETTLE_SECONDS, RuleBook


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wait_to_settle(self) -> None:
        self.now += SETTLE_SECONDS


BROKEN = "address: felanmalan@bostad.example\npriorities:\n  - name: akut\n    resolve_within: 2x\n"


def broken_and_settled(book: RuleBook, clock: Clock) -> None:
    """Write BROKEN and let the book read it twice, far enough apart to believe it."""
    book.path.write_text(BROKEN)
    assert book.reload(force=True) is False
    assert book.problem is None  # once is not enough: the editor may still be saving
    clock.wait_to_settle()
    assert book.reload() is False


def test_a_broken_edit_keeps_the_last_good_rules(rules_path: Path, tmp_path: Path) -> None:
    clock = Clock()
    book = RuleBook(rules_path, tmp_path, clock=clock)
    good = book()
    broken_and_settled(book, clock)
    assert book() is good
    assert book.problem is not None
    assert "resolve_within" in str(book.problem)
    assert book.take_unreported_problem() is book.problem
    assert book.take_unreported_problem() is None  # told once per broken version


def test_a_fixed_file_takes_effect(rules_path: Path, tmp_path: Path) -> None:
    clock = Clock()
    book = RuleBook(rules_path, tmp_path, clock=clock)
    text = rules_path.read_text()
    broken_and_settled(book, clock)
    rules_path.write_text(text.replace("resolve_within: 24h", "resolve_within: 12h"))
    assert book.reload(force=True) is True
    assert book.problem is None
    assert book().priority("akut").resolve_within.total_seconds() == 12 * 3600


def test_a_restart_on_a_broken_file_runs_the_last_good_copy(
    rules_path: Path, tmp_path: Path
) -> None:
    RuleBook(rules_path, tmp_path)
    rules_path.write_text(BROKEN)
    restarted = RuleBook(rules_path, tmp_path)
    assert restarted().address == "felanmalan@bostad.example"
    assert restarted.problem is not None


def test_a_broken_file_with_nothing_to_fall_back_on_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BROKEN)
    with pytest.raises(RulesError):
        RuleBook(path, tmp_path)


def test_no_file_means_built_in_defaults(tmp_path: Path) -> None:
    book = RuleBook(tmp_path / "missing.yaml", tmp_path, "desk@example.org")
    assert book().address == "desk@example.org"


def test_a_file_caught_mid_save_is_looked_at_again(rules_path: Path, tmp_path: Path) -> None:
    """Emptied by the editor when read, then written in full: nobody is told of anything."""
    clock = Clock()
    book = RuleBook(rules_path, tmp_path, clock=clock)
    text = rules_path.read_text()
    rules_path.write_text("")  # the save begins: truncated, not yet written
    assert book.reload(force=True) is False
    clock.wait_to_settle()
    rules_path.write_text(text.replace("resolve_within: 24h", "resolve_within: 12h"))
    assert book.reload() is True
    assert book.problem is None
    assert book.take_unreported_problem() is None


def test_a_version_that_changes_while_failing_waits_anew(rules_path: Path, tmp_path: Path) -> None:
    clock = Clock()
    book = RuleBook(rules_path, tmp_path, clock=clock)
    rules_path.write_text(BROKEN[:40])
    assert book.reload(force=True) is False
    clock.wait_to_settle()
    rules_path.write_text(BROKEN)  # still being written: a new version, a new wait
    assert book.reload() is False
    assert book.problem is None
    clock.wait_to_settle()
    assert book.reload() is False
    assert book.problem is not None
    assert "resolve_within" in str(book.problem)


def test_a_change_is_told_by_content_not_by_size_or_time(rules_path: Path, tmp_path: Path) -> None:
    """A coarse file system clock can give two saves of one size the same mtime."""
    book = RuleBook(rules_path, tmp_path)
    before = rules_path.stat()
    text = rules_path.read_text()
    rules_path.write_text(text.replace("resolve_within: 24h", "resolve_within: 12h"))
    os.utime(rules_path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert rules_path.stat().st_size == before.st_size
    assert book.reload() is True
    assert book().priority("akut").resolve_within.total_seconds() == 12 * 3600
    assert book.reload() is False  # read again, unchanged: nothing to do
