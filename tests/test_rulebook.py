import os
import time
from pathlib import Path

import pytest

from smartmail.errors import RulesError
from smartmail.rulebook import RuleBook


def write_settled(path: Path, text: str) -> None:
    """Write `text` as a file saved a while ago (a fresh file may still be mid-save)."""
    path.write_text(text)
    old = time.time() - 60
    os.utime(path, (old, old))


BROKEN = "address: felanmalan@bostad.example\npriorities:\n  - name: akut\n    resolve_within: 2x\n"


def test_a_broken_edit_keeps_the_last_good_rules(rules_path: Path, tmp_path: Path) -> None:
    book = RuleBook(rules_path, tmp_path)
    good = book()
    write_settled(rules_path, BROKEN)
    assert book.reload(force=True) is False
    assert book() is good
    assert book.problem is not None
    assert "resolve_within" in str(book.problem)
    assert book.take_unreported_problem() is book.problem
    assert book.take_unreported_problem() is None  # told once per broken version


def test_a_fixed_file_takes_effect(rules_path: Path, tmp_path: Path) -> None:
    book = RuleBook(rules_path, tmp_path)
    text = rules_path.read_text()
    write_settled(rules_path, BROKEN)
    book.reload(force=True)
    write_settled(rules_path, text.replace("resolve_within: 24h", "resolve_within: 12h"))
    assert book.reload(force=True) is True
    assert book.problem is None
    assert book().priority("akut").resolve_within.total_seconds() == 12 * 3600


def test_a_restart_on_a_broken_file_runs_the_last_good_copy(
    rules_path: Path, tmp_path: Path
) -> None:
    RuleBook(rules_path, tmp_path)
    write_settled(rules_path, BROKEN)
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
    book = RuleBook(rules_path, tmp_path)
    rules_path.write_text(BROKEN)  # just now: perhaps half written
    assert book.reload(force=True) is False
    assert book.problem is None
    os.utime(rules_path, (time.time() - 60, time.time() - 60))
    assert book.reload() is False
    assert book.problem is not None


def test_a_save_that_starts_between_look_and_read_is_looked_at_again(
    rules_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file looked settled, but the editor emptied it before we read it."""
    book = RuleBook(rules_path, tmp_path)
    good = book()
    write_settled(rules_path, rules_path.read_text() + "\n")
    read_bytes = Path.read_bytes

    def read_mid_save(path: Path) -> bytes:
        if path == rules_path:
            path.write_text("")  # the save begins: truncated, not yet written
            return b""
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_mid_save)
    assert book.reload(force=True) is False
    assert book.problem is None  # nobody is told of a file that is only being saved
    assert book() is good
