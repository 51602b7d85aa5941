from datetime import date, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartmail.desk.commands import (
    BY_NAME,
    SPECS,
    Amount,
    BadCommand,
    Due,
    Standing,
    clean_line,
    help_lines,
    parse_line,
    refusal,
    split_commands,
)


def test_commands_are_the_lines_at_the_top() -> None:
    tagged = split_commands(
        "#status resolved\n\n#TIME 1h30m bytte vattenlås\nHej Eva, nu är det fixat.\n#note\n"
        "> quoted"
    )
    assert [c.name for c in tagged.commands] == ["status", "time"]
    assert tagged.commands[0].value == "resolved"
    assert tagged.commands[1].value == timedelta(hours=1, minutes=30)
    assert tagged.commands[1].text == "bytte vattenlås"
    assert tagged.body.startswith("Hej Eva")
    assert tagged.problems == ()


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("#assign me", "assign", "me"),
        ("#tilldela Kalle Karlsson", "assign", "Kalle Karlsson"),
        ("#status Löst", "status", "resolved"),
        ("#status återkoppling", "status", "feedback"),
        ("#stäng", "close", None),
        ("#återöppna", "reopen", None),
        ("#prioritet akut", "priority", "akut"),
        ("#kategori Skador i lägenheten/El", "category", "Skador i lägenheten/El"),
        ("#due 3d", "due", Due(after=timedelta(days=3))),
        ("#due 2026-12-01", "due", Due(on=date(2026, 12, 1))),
        ("#klart 2026-12-01 14:00", "due", Due(on=date(2026, 12, 1), at=time(14, 0))),
        ("#due 2026-12-01 kl 10", "due", Due(on=date(2026, 12, 1), at=time(10, 0))),
        ("#due 2026-12-01 kl. 9.30", "due", Due(on=date(2026, 12, 1), at=time(9, 30))),
        ("#due 2026-12-01T14:00", "due", Due(on=date(2026, 12, 1), at=time(14, 0))),
        ("#material vattenlås 249,50", "material", Amount("vattenlås", 249.5)),
        ("#material rör 1 m 120 kr", "material", Amount("rör 1 m", 120.0)),
        ("#material vattenlås 2 st 249", "material", Amount("vattenlås", 498.0, 2, "st", 249)),
        ("#material vattenlås 2st à 249:-", "material", Amount("vattenlås", 498.0, 2, "st", 249)),
        ("#material rör 3 m à 45", "material", Amount("rör", 135.0, 3, "m", 45)),
        ("#material packning 2 x 12,50 kr", "material", Amount("packning", 25.0, 2, "", 12.5)),
        ("#material låda 2x3 149", "material", Amount("låda 2x3", 149.0)),
        ("#merge #12", "merge", 12),
        ("#länka 7", "link", 7),
        ("#ärende 7", "case", 7),
        ("#cases 12, 14 19", "cases", (12, 14, 19)),
        ("#mina", "mine", None),
        ("#hjälp", "help", None),
        ("#intern", "note", None),
        ("#status: klar", "status", "resolved"),
        ("#assign : me", "assign", "me"),
        ("#due: 2026-12-01 14:00", "due", Due(on=date(2026, 12, 1), at=time(14, 0))),
    ],
)
def test_each_command_and_alias(line: str, name: str, value: object) -> None:
    command = parse_line(line)
    assert (command.name, command.value) == (name, value)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("#frobnicate", "unknown command #frobnicate"),
        ("#status sleeping", "unknown status"),
        ("#time soon", "a duration"),
        ("#material vattenlås", "the amount"),
        ("#merge twelve", "case number"),
        ("#assign", "say what"),
        ("#due tomorrow", "a date"),
    ],
)
def test_malformed_commands_say_what_is_wrong(line: str, says: str) -> None:
    tagged = split_commands(line)
    assert tagged.commands == ()
    assert says in tagged.problems[0].message.render("en")


@pytest.mark.parametrize(
    ("line", "standing", "allowed"),
    [
        ("#assign me", Standing("staff"), True),
        ("#merge 3", Standing("manager"), True),
        ("#time 1h", Standing("contractor", forwarded_to_them=True), True),
        ("#time 1h", Standing("contractor"), False),
        ("#status resolved", Standing("contractor", forwarded_to_them=True), True),
        ("#status closed", Standing("contractor", forwarded_to_them=True), False),
        ("#assign me", Standing("contractor", forwarded_to_them=True), False),
        ("#close", Standing("customer", own_case=True), True),
        ("#close", Standing("customer"), False),
        ("#mine", Standing("customer"), True),
        ("#new", Standing("customer"), False),
        ("#note", Standing("customer", own_case=True), False),
        ("#help", Standing("customer"), True),
    ],
)
def test_who_may_do_what(line: str, standing: Standing, allowed: bool) -> None:
    assert (refusal(parse_line(line), standing) is None) is allowed


def test_help_lists_what_the_role_may_use() -> None:
    staff = "\n".join(help_lines("staff", "en"))
    customer = "\n".join(help_lines("customer", "sv"))
    assert all(spec.usage in staff for spec in SPECS if "staff" in spec.roles)
    assert "#stäng" in customer  # each language writes the commands its own way
    assert "#close" not in customer
    assert "#tilldela" not in customer


@pytest.mark.parametrize("language", ["sv", "en"])
@pytest.mark.parametrize("role", ["staff", "contractor", "customer"])
def test_help_is_a_column_that_a_long_usage_does_not_widen(role: str, language: str) -> None:
    lines = help_lines(role, language)
    usages = [line[: line.index("  ")] for line in lines]
    starts = [
        len(line) - len(line[len(usage) :].lstrip())
        for line, usage in zip(lines, usages, strict=True)
    ]
    column = max(start for start, usage in zip(starts, usages, strict=True) if len(usage) <= 42)
    assert column <= 44  # #search's usage, 130 wide, once padded every line to it
    for start, usage in zip(starts, usages, strict=True):  # a usage too wide runs over
        assert start == (column if len(usage) <= 42 else len(usage) + 2)


def test_swedish_help_names_commands_that_are_read() -> None:
    for line in help_lines("staff", "sv"):
        command = line.split()[0]
        assert command.removeprefix("#").casefold() in BY_NAME


# What phones and input methods put in front of or into a "#note": it is still a note.
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad", "\u200e", "\u200f",
             "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
             "\u2069", "\u061c"]  # fmt: skip


@pytest.mark.parametrize("mark", INVISIBLE)
def test_invisible_characters_do_not_hide_a_note(mark: str) -> None:
    for line in (f"{mark}#note", f"#{mark}note", f"#no{mark}te", f"{mark}{mark}#intern{mark}"):
        tagged = split_commands(f"{line}\nKunden verkar jobbig.")
        assert tagged.is_note, repr(line)
        assert tagged.body == "Kunden verkar jobbig."
        assert tagged.problems == ()


@pytest.mark.parametrize(
    "line",
    [
        "\uff03note",  # full-width number sign
        "\ufe5fnote",  # small number sign
        "\u266fnote",  # music sharp
        "\uff03\uff4e\uff4f\uff54\uff45",  # all full width
        "\u3000\uff03note",  # ideographic space before it
        "\u00a0#note\u00a0",  # no-break spaces
        "\ufeff\uff03 note:",
        "#NOTE",
        "# note",
    ],
)
def test_a_note_however_it_was_typed(line: str) -> None:
    assert split_commands(f"{line}\nHemligt.").is_note


@pytest.mark.parametrize(
    "line",
    ["#nto", "\uff03 notera", "# Felanmälan lgh 1203", "#", "#!!", "\u200b#\u200b", "##note",
     "#note" + "\u0301", "#" + "x" * 5000],
)  # fmt: skip
def test_what_only_looks_like_a_command_is_a_problem_not_text(line: str) -> None:
    tagged = split_commands(f"{line}\nHej Eva, vi kommer i morgon.")
    assert tagged.commands == ()
    assert len(tagged.problems) == 1
    assert tagged.body == "Hej Eva, vi kommer i morgon."
    assert tagged.text.endswith("Hej Eva, vi kommer i morgon.")  # what #send would send
    assert tagged.problems[0].message.render("sv") != tagged.problems[0].message.render("en")


def test_a_mail_that_is_only_invisible_characters_has_no_commands() -> None:
    tagged = split_commands("\u200b\n\ufeff\n\u2060")
    assert (tagged.commands, tagged.problems, tagged.body) == ((), (), "")


def test_text_after_the_commands_keeps_its_own_characters() -> None:
    body = "Hej\u200b Eva \uff03 1203"
    assert split_commands(f"#note\n{body}").body == body


@pytest.mark.parametrize(
    "line",
    ["#status " + "\u202e" + "dlos", "#assign {number}", "#assign {0.__class__}", "#time 1h {x}"],
)
def test_braces_and_bidi_in_values_never_break_a_phrase(line: str) -> None:
    tagged = split_commands(line)
    for problem in tagged.problems:
        for language in ("sv", "en"):
            assert problem.message.render(language)
    for command in tagged.commands:
        assert command.line


def test_refusals_are_said_in_the_readers_language() -> None:
    why = refusal(parse_line("#assign me"), Standing("customer"))
    assert why is not None
    assert why.render("en") == "#assign is not for customers"
    assert why.render("sv") == "#assign är inget kommando för kunder"


_FORMAT_CHARS = st.sampled_from([*INVISIBLE, "\u00a0", " ", "\t", "\u3000"])


@given(st.text())
def test_a_line_that_looks_like_a_command_is_never_silently_text(text: str) -> None:
    """Whatever the text: when its first line reads as "#...", it is a command or a problem
    (a staff mail with a problem is held back), never the start of a public answer."""
    tagged = split_commands(text)
    first = next((clean_line(line) for line in text.splitlines() if clean_line(line)), "")
    if first.startswith("#"):
        assert tagged.commands or tagged.problems
    for problem in tagged.problems:
        assert problem.message.render("sv")
        assert problem.message.render("en")
    assert tagged.body == tagged.body.strip()


@given(st.lists(_FORMAT_CHARS, max_size=4), st.sampled_from(["#", "\uff03", "\ufe5f"]), st.text())
def test_a_note_behind_any_invisible_prefix_is_a_note(
    prefix: list[str], hash_sign: str, body: str
) -> None:
    tagged = split_commands("".join(prefix) + hash_sign + "note\n" + body)
    assert tagged.is_note


@given(st.text(), st.text())
def test_any_value_renders_as_itself_in_any_phrase(line: str, why: str) -> None:
    from smartmail.mail.phrases import N_, phrase

    rendered = phrase(N_("case {number}: {line}: {why}"), number=1, line=line, why=why).render("sv")
    assert rendered == f"ärende 1: {line}: {why}"


@pytest.mark.parametrize(
    ("line", "value"),
    [("#hold", "on"), ("#spara", "on"), ("#hold off", "off"), ("#Spara: av", "off")],
)
def test_hold_puts_a_legal_hold_on_and_off(line: str, value: str) -> None:
    command = parse_line(line)
    assert (command.name, command.value) == ("hold", value)


def test_hold_is_for_staff_only_and_takes_nothing_but_off() -> None:
    with pytest.raises(BadCommand):
        parse_line("#hold forever")
    hold = parse_line("#spara")
    assert refusal(hold, Standing("staff")) is None
    assert refusal(hold, Standing("manager")) is None
    assert refusal(hold, Standing("customer", own_case=True)) is not None
    assert refusal(hold, Standing("contractor", forwarded_to_them=True)) is not None
