"""Canned answers in the rules: `replies:` and `replies_dir:` read, each text tried once
when the rules load, mistakes named by file and line; rendering keeps values to one line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartmail.errors import RulesError
from smartmail.rules.load import load_rules

HEAD = textwrap.dedent(
    """\
    address: felanmalan@bostad.example
    language: sv
    priorities:
      - {name: normal, resolve_within: 3d}
    people:
      - {email: anna@bostad.example, name: Anna Ek, role: manager}
    categories:
      - {name: Övrigt, default: true, recipient: anna@bostad.example, priority: normal}
    """
)
VALUES = {"number": 12, "customer_name": "Eva Lind", "deadline": "2026-11-24 16:00 CET",
          "owner_name": "Kalle Karlsson"}  # fmt: skip


def rules_file(tmp_path: Path, replies: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + textwrap.dedent(replies), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(RulesError) as refused:
        load_rules(path)
    return [str(p) for p in refused.value.problems]


def test_one_text_for_all_one_per_language_and_files_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "svar").mkdir()
    (tmp_path / "svar" / "lampa.sv.txt").write_text("Lampan byts av {{ owner_name }}.\n")
    (tmp_path / "svar" / "lampa.en.txt").write_text("{{ owner_name }} changes the lamp.\n")
    (tmp_path / "svar" / "notes.md").write_text("not an answer")
    path = rules_file(
        tmp_path,
        """\
        replies:
          tack: "Tack! Ditt ärende har nummer {{ number }}."
          nyckel:
            sv: |
              Hej {{ customer_name }}!
              Nya nycklar är klara senast {{ deadline }}.
            en: "Hello {{ customer_name }}! New keys by {{ deadline }}."
        replies_dir: svar
        """,
    )
    replies = load_rules(path).replies
    assert replies.names() == ["lampa", "nyckel", "tack"]
    nyckel = replies.find("Nyckel")
    assert nyckel is not None
    assert replies.render(nyckel, "sv", VALUES) == (
        "Hej Eva Lind!\nNya nycklar är klara senast 2026-11-24 16:00 CET."
    )
    assert replies.render(nyckel, "en", VALUES).startswith("Hello Eva Lind!")
    tack, lampa = replies.find("tack"), replies.find("lampa")
    assert tack is not None
    assert lampa is not None
    assert replies.render(tack, "en", VALUES) == "Tack! Ditt ärende har nummer 12."
    assert replies.render(lampa, "en", VALUES) == "Kalle Karlsson changes the lamp."
    assert replies.find("finns-inte") is None


def test_mistakes_are_named_by_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "svar").mkdir()
    (tmp_path / "svar" / "lampa.sv.txt").write_text("Hej!\n\n{{ owner_name | okänt }}\n")
    path = rules_file(
        tmp_path,
        """\
        replies:
          nyckel:
            sv: |
              Hej {{ customer_name }}!
              Klart {{ deadlin }}.
            en: "{{ ''.__class__.__mro__ }}"
            de: "Hallo"
          trasig: |
            rad ett
            {% if x %}
          "två ord": "x"
        replies_dir: svar
        """,
    )
    lines = HEAD.count("\n")
    found = problems(path)
    assert f"rules.yaml:{lines + 5}: replies.nyckel.sv: template: UndefinedError: " in found[1]
    assert (
        "'deadlin' is undefined (values: number, customer_name, deadline, owner_name)" in (found[1])
    )
    assert any(f"rules.yaml:{lines + 6}: replies.nyckel.en: template: SecurityError" in p
               for p in found)  # fmt: skip
    assert any(f'rules.yaml:{lines + 7}: replies.nyckel.de: unknown key "de"' in p for p in found)
    assert any(f"rules.yaml:{lines + 10}: replies.trasig: template: Unexpected end" in p
               for p in found)  # fmt: skip
    assert any("replies.två ord: a name is letters" in p for p in found)
    assert any(p.startswith(f"{tmp_path / 'svar' / 'lampa.sv.txt'}:3: template:") for p in found)


def test_a_missing_folder_is_a_problem_of_its_key(tmp_path: Path) -> None:
    path = rules_file(tmp_path, "replies_dir: finns-inte\n")
    (problem,) = problems(path)
    assert f"rules.yaml:{HEAD.count(chr(10)) + 1}: replies_dir: cannot read the folder" in problem


@given(st.text(max_size=300))
def test_a_value_is_one_line_of_printable_text_whatever_it_holds(name: str) -> None:
    replies = load_rules(_fixed_rules()).replies
    reply = replies.find("hej")
    assert reply is not None
    text = replies.render(reply, "sv", {**VALUES, "customer_name": name})
    first, _, rest = text.partition("\n")
    assert rest == "Slut."
    assert first.startswith("Hej ")
    assert first.isprintable()


_RULES: list[Path] = []


def _fixed_rules() -> Path:
    if not _RULES:
        import tempfile

        directory = Path(tempfile.mkdtemp(prefix="replies-"))
        _RULES.append(
            rules_file(directory, 'replies:\n  hej: "Hej {{ customer_name }}!\\nSlut."\n')
        )
    return _RULES[0]


def test_rules_check_renders_every_canned_answer_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from smartmail.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SMARTMAIL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SMARTMAIL_SECRET", "test-secret")
    (tmp_path / "svar").mkdir()
    good = rules_file(
        tmp_path, 'replies:\n  tack: "Tack, {{ customer_name }}!"\nreplies_dir: svar\n'
    )
    (tmp_path / "svar" / "lampa.sv.txt").write_text("Hej!\n{{ number }}\n")
    assert main(["rules", "check", str(good)]) == 0
    assert "canned answers: lampa, tack" in capsys.readouterr().out
    (tmp_path / "svar" / "lampa.sv.txt").write_text("Hej!\n{{ nummer }}\n")
    assert main(["rules", "check", str(good)]) == 65
    err = capsys.readouterr().err
    assert f"{tmp_path / 'svar' / 'lampa.sv.txt'}:2: template: UndefinedError: 'nummer'" in err


def test_the_last_good_rules_read_their_folder_beside_the_rules_file(tmp_path: Path) -> None:
    from smartmail.rules.book import RuleBook

    (tmp_path / "svar").mkdir()
    (tmp_path / "svar" / "lampa.sv.txt").write_text("Lampan byts.\n")
    path = rules_file(tmp_path, "replies_dir: svar\n")
    data = tmp_path / "data"
    data.mkdir()
    assert RuleBook(path, data)().replies.names() == ["lampa"]
    path.write_text("address: [broken\n", encoding="utf-8")
    book = RuleBook(path, data)  # a restart on a broken file: the last good copy runs
    assert book.problem is not None
    assert book().replies.names() == ["lampa"]
