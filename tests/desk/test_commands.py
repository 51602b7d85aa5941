from datetime import date, time, timedelta

import pytest

from smartmail.desk.commands import (
    SPECS,
    Amount,
    Due,
    Standing,
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
    assert says in tagged.problems[0].message


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
    assert "#close" in customer
    assert "#assign" not in customer
