"""The README is a contract: its settings and commands are checked against the code."""

from __future__ import annotations

import re
from pathlib import Path

from smartmail.cli import build_parser
from smartmail.config import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_the_layout_names_every_module_and_no_other() -> None:
    package = Path(__file__).resolve().parent.parent / "smartmail"
    modules = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name not in {"__init__.py", "__main__.py"}
    }
    listed = set(re.findall(r"^      ([\w/]+\.py) ", README, re.MULTILINE))
    assert listed == modules


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    documented = set(re.findall(r"^\| `(SMARTMAIL_[A-Z_]+)` \|", README, re.MULTILINE))
    assert documented == set(SETTINGS)


def test_every_command_is_documented_and_exists() -> None:
    documented = {
        " ".join(line.split("`")[1].split()[1:3]).split(" [")[0]
        for line in README.splitlines()
        if line.startswith("| `smartmail ")
    }
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in documented:
        words = [w for w in command.split() if not w.startswith(("[", "N", "FILE", "PATH"))]
        choices = subcommands
        for word in words:
            assert word in choices, f"README documents `smartmail {command}`"
            sub = choices[word]
            nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
            choices = nested[0].choices if nested else {}
    top_level = {c.split()[0] for c in documented}
    assert top_level == set(subcommands)


def test_the_readme_commands_are_the_ones_ci_runs() -> None:
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    test_command = next(
        line.strip() for line in README.splitlines() if "scripts/check" in line and "pip" in line
    )
    assert test_command in ci


def test_every_mail_command_is_documented() -> None:
    from smartmail.desk.commands import SPECS

    for spec in SPECS:
        assert f"`{spec.usage.replace('|', chr(92) + '|')}`" in README, spec.name
