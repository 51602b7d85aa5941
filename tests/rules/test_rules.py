"""Tests for smartmail.rules.model: the shipped rules.yaml, word matching and validation."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date, time, timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path

import pytest

from smartmail.errors import RulesError
from smartmail.mail.parse import ParsedMail
from smartmail.rules.load import load_rules, rules_from_text
from smartmail.rules.model import (
    Rules,
    default_rules,
    format_duration,
    parse_duration,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "rules.yaml"
SAMPLES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "samples").glob("*.eml"))
RULES_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"


def make_mail(
    subject: str = "",
    text: str = "",
    from_addr: str = "kund@example.com",
    to: tuple[str, ...] = ("felanmalan@bostad.example",),
    cc: tuple[str, ...] = (),
) -> ParsedMail:
    return ParsedMail(
        message_id="<test@example.com>",
        subject=subject,
        from_addr=from_addr,
        from_name="",
        to=to,
        cc=cc,
        reply_to=(),
        date=None,
        in_reply_to=(),
        references=(),
        headers={},
        text=text,
        reply_text=text,
        html="",
        attachments=(),
        content_type="text/plain",
    )


def read_sample(path: Path) -> tuple[ParsedMail, str]:
    """A sample .eml as a ParsedMail plus its X-Expect-Group header."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    mail = make_mail(
        subject=str(message["Subject"]),
        text=body.get_content(),
        from_addr=parseaddr(str(message["From"]))[1].lower(),
        to=tuple(a.lower() for _, a in getaddresses(message.get_all("To", []))),
        cc=tuple(a.lower() for _, a in getaddresses(message.get_all("Cc", []))),
    )
    return mail, str(message["X-Expect-Group"])


@pytest.fixture(scope="module")
def shipped() -> Rules:
    return load_rules(SHIPPED)


# --------------------------------------------------------------------------- shipped file


@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_lands_in_expected_group(shipped: Rules, sample: Path) -> None:
    mail, expected = read_sample(sample)
    route = shipped.route(mail)
    assert f"{route.category}/{route.group}" == expected, route.reason


def test_every_group_has_a_sample(shipped: Rules) -> None:
    expected = {read_sample(p)[1] for p in SAMPLES}
    groups = {f"{g.category}/{g.name}" for g in shipped.groups}
    assert groups - expected == set(), "add a sample .eml under tests/fixtures/samples"
    assert expected - groups == set(), "a sample expects a group that does not exist"


def test_shipped_rules_basics(shipped: Rules) -> None:
    assert shipped.address == "felanmalan@bostad.example"
    assert shipped.addresses == {"felanmalan@bostad.example", "hyra@bostad.example"}
    assert shipped.language == "sv"
    assert [p.name for p in shipped.priorities] == ["akut", "normal", "lag"]
    akut = shipped.priority("akut")
    assert akut.clock == "always"
    assert akut.respond_within == timedelta(hours=1)
    assert [(s.after, s.to) for s in akut.escalate] == [
        (timedelta(0), "forvaltare"),
        (timedelta(hours=8), "chef@bostad.example"),
    ]
    assert shipped.priority("lag").respond_within is None
    assert shipped.priority("normal").resolve_within == timedelta(days=3)
    with pytest.raises(KeyError):
        shipped.priority("urgent")
    assert shipped.groups[-1].match is None
    assert shipped.groups[-1].category == "Övrigt"
    assert shipped.teams["fastighetsskotare"].lead == "kalle@bostad.example"
    assert shipped.auto_close_after == timedelta(days=7)
    assert shipped.answers_per_hour == 10


def test_people_and_roles(shipped: Rules) -> None:
    person = shipped.person("KALLE@Bostad.Example")
    assert person is not None
    assert person.name == "Kalle Karlsson"
    assert person.area == "Norr"
    assert shipped.role_of("anna@bostad.example") == "manager"
    assert shipped.role_of("jobb@rorab.example") == "contractor"
    assert shipped.role_of("someone@example.com") == "customer"
    assert shipped.person("someone@example.com") is None
    assert {p.email for p in shipped.managers()} == {"anna@bostad.example", "chef@bostad.example"}


def test_shipped_calendar(shipped: Rules) -> None:
    calendar = shipped.calendar
    assert calendar.timezone.key == "Europe/Stockholm"
    assert calendar.business_hours[0] == ((time(7), time(16)),)
    assert 5 not in calendar.business_hours
    assert calendar.is_holiday(date(2027, 1, 6))  # trettondedag jul
    assert calendar.is_holiday(date(2026, 6, 19))  # midsommarafton
    assert not calendar.is_holiday(date(2026, 6, 18))


def test_route_reason_and_note(shipped: Rules) -> None:
    route = shipped.route(make_mail("Stopp", "Det är stopp i avloppet."))
    assert (route.category, route.group) == ("Skador i lägenheten", "Stopp i avlopp")
    assert route.recipient == "fastighetsskotare"
    assert route.priority == "akut"
    assert route.matched_words == ("avlopp", "stopp")
    line = next(g.line for g in shipped.groups if g.name == "Stopp i avlopp")
    assert (
        route.reason == f'group "Stopp i avlopp" (rules.yaml:{line}): words avloppet~avlopp, stopp'
    )
    parking = shipped.route(make_mail("Parkering", "Min bil står på fel p-plats"))
    assert "vidarebefordra" in parking.note.casefold()
    default = shipped.route(make_mail("Hej", "Tack för allt"))
    assert default.reason == 'default category "Övrigt"'
    assert (default.group, default.recipient, default.priority) == ("", "forvaltare", "normal")


def test_default_rules() -> None:
    rules = default_rules("Help@Example.com")
    assert rules.address == "help@example.com"
    assert rules.addresses == {"help@example.com"}
    assert rules.teams["support"].members == ()
    route = rules.route(make_mail("Anything", "at all"))
    assert (route.category, route.recipient, route.priority) == ("Övrigt", "support", "normal")
    normal = rules.priority("normal")
    assert (normal.resolve_within, normal.clock) == (timedelta(days=3), "business_hours")
    assert rules.calendar.holidays == "SE"
    assert rules.calendar.timezone.key == "Europe/Stockholm"


# --------------------------------------------------------------------------- matching


@pytest.fixture(scope="module")
def match_rules() -> Rules:
    return load_rules(RULES_FIXTURES / "matching.yaml")


def group_of(rules: Rules, mail: ParsedMail, to_address: str | None = None) -> str:
    return rules.route(mail, to_address).group


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("elen har gått", "El"),
        ("el", "El"),
        ("elcentralen låter", "El"),
        ("hela huset", ""),
        ("en ny modell", ""),
        ("det är helt fel", ""),
        ("VATTENLÅSET läcker", "Vatten"),
        ("Översvämningen i källaren", "Vatten"),
        ("ÖVERSVÄMNING", "Vatten"),
        ("jag vill säga upp", "Fras"),
        ("jag vill säga upp mig", "Fras"),
        ("SÄGA UPPSÄGNINGSTIDEN", "Fras"),
        ("säga att jag går upp", ""),
        ("tappat nyckeln", "Båda"),
        ("nyckeln är borta", ""),
        ("har tappat bort", ""),
    ],
)
def test_word_matching(match_rules: Rules, text: str, group: str) -> None:
    assert group_of(match_rules, make_mail("", text)) == group


def test_words_in_subject_count(match_rules: Rules) -> None:
    assert group_of(match_rules, make_mail("Elen", "ingenting här")) == "El"


def test_phrase_does_not_span_subject_and_body(match_rules: Rules) -> None:
    assert group_of(match_rules, make_mail("vill säga", "upp")) == ""


def test_decomposed_unicode_matches(match_rules: Rules) -> None:
    decomposed = "vattenla\u030as"  # "vattenlås" with a combining ring above
    assert group_of(match_rules, make_mail("", decomposed)) == "Vatten"


def test_reason_records_each_rule_word(match_rules: Rules) -> None:
    route = match_rules.route(make_mail("", "Nyckeln? Jag har tappat nycklarna"))
    assert route.matched_words == ("nyckel", "tappat")
    assert "words nyckeln~nyckel, tappat" in route.reason


def test_subject_regex(match_rules: Rules) -> None:
    assert group_of(match_rules, make_mail("ORDER 123", "")) == "Ämne"
    assert group_of(match_rules, make_mail("order 123 igen", "")) == ""
    assert group_of(match_rules, make_mail("", "order 123")) == ""
    route = match_rules.route(make_mail("Faktura 7", "en påminnelse"))
    assert route.group == "Ämne och ord"
    assert group_of(match_rules, make_mail("Faktura 7", "inget")) == ""
    assert group_of(match_rules, make_mail("Hej", "faktura påminnelse")) == ""


def test_from_domain_and_address(match_rules: Rules) -> None:
    assert group_of(match_rules, make_mail(from_addr="sales@leverantor.example")) == "Från domän"
    assert group_of(match_rules, make_mail(from_addr="x@sub.leverantor.example")) == ""
    assert group_of(match_rules, make_mail(from_addr="x@leverantor.example.com")) == ""
    assert group_of(match_rules, make_mail(from_addr="VD@kund.example")) == "Från adress"
    assert group_of(match_rules, make_mail(from_addr="ekonomi@kund.example")) == ""


def test_to_function_address(match_rules: Rules) -> None:
    assert match_rules.addresses == {
        "help@firma.example",
        "extra@firma.example",
        "hyra@firma.example",
    }
    to_hyra = make_mail(to=("hyra@firma.example",))
    cc_hyra = make_mail(to=("someone@example.com",), cc=("Hyra@Firma.example",))
    assert group_of(match_rules, to_hyra) == "Till"
    assert group_of(match_rules, cc_hyra) == "Till"
    assert group_of(match_rules, make_mail(to=("help@firma.example",))) == ""
    # The function address the mail came to wins over the headers (e.g. Bcc).
    assert group_of(match_rules, make_mail(to=("help@firma.example",)), "hyra@firma.example")
    assert group_of(match_rules, to_hyra, "help@firma.example") == ""


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("3d", timedelta(days=3)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1d 2h 30m", timedelta(days=1, hours=2, minutes=30)),
        ("0h", timedelta(0)),
    ],
)
def test_parse_duration(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize("text", ["", "3", "3 days", "h", "-1h", "1h1d", "1.5h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(timedelta(days=1, hours=12)) == "1d12h"
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(0)) == "0m"


# --------------------------------------------------------------------------- validation

BASE = """\
address: help@firma.example
calendar:
  timezone: Europe/Stockholm
  business_hours: {mon-fri: "08:00-17:00"}
  holidays: SE
priorities:
  - name: normal
    respond_within: 4h
    resolve_within: 3d
    clock: business_hours
    escalate: [{after: 0h, to: team}]
people:
  - {email: a@firma.example, name: A, role: staff}
teams:
  team: {members: [a@firma.example]}
categories:
  - name: Fel
    groups:
      - name: Avlopp
        match: {any: [avlopp]}
        recipient: team
        priority: normal
  - name: Övrigt
    default: true
    recipient: team
    priority: normal
"""

MARK = "# <-"

Edit = tuple[str, str]


def bad(case_id: str, edits: Edit | list[Edit], key: str, message: str) -> object:
    """One bad-file case: edits to BASE (one edit puts "# <-" on the line the problem must be
    reported at), the expected key path and a fragment of the expected message."""
    return pytest.param(edits if isinstance(edits, list) else [edits], key, message, id=case_id)


END = "    default: true\n    recipient: team\n    priority: normal\n"

BAD_CASES = [
    bad(
        "yaml-syntax",
        ("    clock: business_hours\n", "    clock: business_hours: yes # <-\n"),
        "priorities[0].clock",
        "YAML syntax error",
    ),
    bad(
        "unknown-top-key",
        ("address:", "adress: x@firma.example # <-\naddress:"),
        "adress",
        'unknown key "adress" (did you mean "address"?)',
    ),
    bad(
        "unknown-nested-key",
        ("    respond_within: 4h", "    respond_whitin: 4h # <-"),
        "priorities[0].respond_whitin",
        'did you mean "respond_within"',
    ),
    bad(
        "missing-required",
        [("    resolve_within: 3d\n", ""), ("  - name: normal\n", "  - name: normal # <-\n")],
        "priorities[0].resolve_within",
        'missing required key "resolve_within"',
    ),
    bad(
        "missing-top-address",
        ("address: help@firma.example\ncalendar:", "calendar: # <-"),
        "address",
        'missing required key "address"',
    ),
    bad(
        "unknown-priority-group",
        ("        priority: normal\n", "        priority: nomral # <-\n"),
        "categories[0].groups[0].priority",
        'unknown priority "nomral" (did you mean "normal"?)',
    ),
    bad(
        "unknown-priority-default",
        (
            "    recipient: team\n    priority: normal\n",
            "    recipient: team\n    priority: akut # <-\n",
        ),
        "categories[1].priority",
        'unknown priority "akut"',
    ),
    bad(
        "unknown-recipient",
        ("        recipient: team\n", "        recipient: b@firma.example # <-\n"),
        "categories[0].groups[0].recipient",
        'unknown recipient "b@firma.example"',
    ),
    bad(
        "unknown-recipient-team",
        ("        recipient: team\n", "        recipient: tema # <-\n"),
        "categories[0].groups[0].recipient",
        'did you mean "team"',
    ),
    bad(
        "unknown-escalation",
        ("to: team}]", "to: chef@firma.example}] # <-"),
        "priorities[0].escalate[0].to",
        'unknown escalation target "chef@firma.example"',
    ),
    bad(
        "bad-duration",
        ("    resolve_within: 3d", "    resolve_within: 3 days # <-"),
        "priorities[0].resolve_within",
        "bad duration",
    ),
    bad(
        "bad-escalation-duration",
        ("[{after: 0h, to: team}]", "[{after: soon, to: team}] # <-"),
        "priorities[0].escalate[0].after",
        "bad duration",
    ),
    bad(
        "business-hours-over-24h",
        ("    resolve_within: 3d", "    resolve_within: 30h # <-"),
        "priorities[0].resolve_within",
        "below 24h",
    ),
    bad(
        "bad-regex",
        ("match: {any: [avlopp]}", 'match: {subject: "fel(", any: [avlopp]} # <-'),
        "categories[0].groups[0].match.subject",
        "bad regular expression",
    ),
    bad(
        "bad-time-range",
        ('{mon-fri: "08:00-17:00"}', '{mon-fri: "17:00-08:00"} # <-'),
        "calendar.business_hours.mon-fri",
        'bad time range "17:00-08:00"',
    ),
    bad(
        "bad-time",
        ('{mon-fri: "08:00-17:00"}', '{mon-fri: "8-17"} # <-'),
        "calendar.business_hours.mon-fri",
        'bad time range "8-17"',
    ),
    bad(
        "bad-day",
        ('{mon-fri: "08:00-17:00"}', '{mon-fry: "08:00-17:00"} # <-'),
        "calendar.business_hours.mon-fry",
        'bad days "mon-fry"',
    ),
    bad(
        "overlapping-ranges",
        ('{mon-fri: "08:00-17:00"}', '{mon-fri: ["08:00-12:00", "11:00-17:00"]} # <-'),
        "calendar.business_hours.mon-fri",
        "overlap",
    ),
    bad(
        "never-open",
        ('{mon-fri: "08:00-17:00"}', "{mon-sun: closed} # <-"),
        "calendar.business_hours",
        "no open hours",
    ),
    bad(
        "two-defaults",
        (END, END + "  - name: Annat\n    default: true # <-\n    recipient: team\n"),
        "categories[2].default",
        "a second default category (first at line 23)",
    ),
    bad(
        "no-default",
        [("categories:\n", "categories: # <-\n"), ("    default: true\n", "")],
        "categories",
        "no category has default: true",
    ),
    bad(
        "default-with-match",
        ("    default: true\n", "    default: true\n    match: {any: [x]} # <-\n"),
        "categories[1].match",
        "the default category takes the rest",
    ),
    bad(
        "unknown-role",
        ("role: staff}", "role: boss} # <-"),
        "people[0].role",
        "unknown role 'boss'",
    ),
    bad(
        "unknown-clock",
        ("    clock: business_hours", "    clock: sometimes # <-"),
        "priorities[0].clock",
        "unknown clock 'sometimes'",
    ),
    bad(
        "unknown-assign",
        ("{members: [a@firma.example]}", "{members: [a@firma.example], assign: random} # <-"),
        "teams.team.assign",
        "unknown assign policy 'random'",
    ),
    bad(
        "member-not-person",
        ("{members: [a@firma.example]}", "{members: [a@firma.example, x@firma.example]} # <-"),
        "teams.team.members[1]",
        "x@firma.example is not among the people",
    ),
    bad(
        "lead-not-person",
        (
            "{members: [a@firma.example]}",
            "{members: [a@firma.example], lead: b@firma.example} # <-",
        ),
        "teams.team.lead",
        "b@firma.example is not among the people",
    ),
    bad(
        "bad-timezone",
        ("  timezone: Europe/Stockholm", "  timezone: Europe/Stokholm # <-"),
        "calendar.timezone",
        'unknown time zone "Europe/Stokholm"',
    ),
    bad(
        "bad-holidays-country",
        ("  holidays: SE", "  holidays: XX # <-"),
        "calendar.holidays",
        'unknown holidays country "XX"',
    ),
    bad(
        "duplicate-key",
        ("  holidays: SE", "  holidays: SE\n  timezone: UTC # <-"),
        "calendar.timezone",
        'key "timezone" given twice (first at line 3)',
    ),
    bad(
        "group-without-match",
        [("        match: {any: [avlopp]}\n", ""), ("- name: Avlopp\n", "- name: Avlopp # <-\n")],
        "categories[0].groups[0].match",
        'missing required key "match"',
    ),
    bad(
        "empty-match",
        ("match: {any: [avlopp]}", "match: {} # <-"),
        "categories[0].groups[0].match",
        "an empty match",
    ),
    bad(
        "empty-word-list",
        ("match: {any: [avlopp]}", "match: {any: []} # <-"),
        "categories[0].groups[0].match",
        "an empty match",
    ),
    bad(
        "bad-from",
        ("match: {any: [avlopp]}", "match: {from: [leverantor.example]} # <-"),
        "categories[0].groups[0].match.from[0]",
        "neither an address nor an @domain",
    ),
    bad(
        "bad-to",
        ("match: {any: [avlopp]}", "match: {to: hyra} # <-"),
        "categories[0].groups[0].match.to",
        '"hyra" is not an email address',
    ),
    bad(
        "duplicate-group",
        (
            "        priority: normal\n",
            "        priority: normal\n      - name: Avlopp # <-\n        match: {any: [stopp]}\n",
        ),
        "categories[0].groups[1].name",
        'group "Avlopp" given twice (first at line 19)',
    ),
    bad(
        "duplicate-person",
        (
            "role: staff}\n",
            "role: staff}\n  - {email: A@firma.example, name: B, role: staff} # <-\n",
        ),
        "people[1].email",
        "a@firma.example is listed twice",
    ),
    bad(
        "priorities-not-list",
        ("priorities:\n", "priorities: normal # <-\nold_priorities:\n"),
        "priorities",
        "should be a list",
    ),
]


def _apply(edits: list[Edit]) -> str:
    text = BASE
    for before, after in edits:
        assert text.count(before) == 1, before
        text = text.replace(before, after)
    return text


def _marked_line(text: str) -> int:
    (line,) = [i for i, line in enumerate(text.splitlines(), start=1) if MARK in line]
    return line


def test_base_fixture_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BASE, encoding="utf-8")
    rules = load_rules(path)
    assert [g.name for g in rules.groups] == ["Avlopp", ""]


@pytest.mark.parametrize(("edits", "key", "message"), BAD_CASES)
def test_validation_reports_line_and_key(
    tmp_path: Path, edits: list[Edit], key: str, message: str
) -> None:
    text = _apply(edits)
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    problems = caught.value.problems
    wanted = [p for p in problems if p.key == key and message in p.message]
    assert wanted, [str(p) for p in problems]
    (problem,) = wanted
    line = _marked_line(text)
    assert problem.line == line, str(problem)
    assert problem.file == str(path)
    where = f"{path}:{line}: {key}: " if key else f"{path}:{line}: "  # no empty key shown
    assert str(problem).startswith(where + problem.message)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        BASE.replace("role: staff}", "role: boss}")
        .replace("  timezone: Europe/Stockholm", "  timezone: Mars/Olympus")
        .replace("        priority: normal\n", "        priority: nomral\n")
        .replace("    default: true\n", "")
        .replace("address:", "adress: x@firma.example\naddress:")
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    keys = [p.key for p in caught.value.problems]
    assert set(keys) >= {
        "adress",
        "calendar.timezone",
        "people[0].role",
        "categories[0].groups[0].priority",
        "categories",
    }
    lines = [p.line for p in caught.value.problems]
    assert lines == sorted(lines)
    assert str(caught.value).count("\n") == len(keys) - 1


def test_broken_entry_is_reported_once(tmp_path: Path) -> None:
    """A faulty priority or person is one problem, not one more at every reference to it."""
    text = BASE.replace("    resolve_within: 3d", "    resolve_within: 30h").replace(
        "role: staff}", "role: boss}"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    keys = [p.key for p in caught.value.problems]
    assert keys == ["priorities[0].resolve_within", "people[0].role"]


def test_yaml_syntax_error_unclosed_bracket(tmp_path: Path) -> None:
    text = BASE.replace("match: {any: [avlopp]}", "match: {any: [avlopp}")
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    (problem,) = caught.value.problems
    assert problem.line == text.splitlines().index("        match: {any: [avlopp}") + 1
    assert "YAML syntax error" in problem.message


def test_yaml_syntax_error_message(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text('address: "a@b.example\ncategories: []\n', encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    (problem,) = caught.value.problems
    assert problem.key == "address"  # where the parser was when it gave up
    assert problem.message.startswith("YAML syntax error: ")
    assert "column" in problem.message
    assert "<unicode string>" not in problem.message


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", 3, "b[1]"),  # the list left open
        ("people:\n  - {email: a@b.example, role: staff\n  - x\n", 4, "people[0].role"),
        ("x:\n  - y: 1\n  - y: 2\n    z: : 3\n", 4, "x[1].z"),
        ("x: 1\n\ty: 2\n", 2, "x"),
        ("{", 1, ""),
    ],
)
def test_a_syntax_error_names_the_key_it_is_in(text: str, line: int, key: str) -> None:
    with pytest.raises(RulesError) as caught:
        rules_from_text(text, "rules.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.key) == (line, key), str(problem)
    shown = f"rules.yaml:{line}: {key}: " if key else f"rules.yaml:{line}: "  # no empty key
    assert str(problem) == shown + problem.message


def test_missing_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError) as caught:
        load_rules(tmp_path / "nope.yaml")
    assert caught.value.problems[0].line == 0
    empty = tmp_path / "empty.yaml"
    empty.write_text("# only a comment\n", encoding="utf-8")
    with pytest.raises(RulesError, match="the file is empty"):
        load_rules(empty)


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(RulesError, match="should be a mapping"):
        load_rules(path)


# --------------------------------------------------------------------------- calendar keys


def _load(tmp_path: Path, text: str) -> Rules:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return load_rules(path)


def test_business_hours_forms(tmp_path: Path) -> None:
    hours = (
        'business_hours:\n    "mån-tor": ["08:00-12:00", "13:00-17:00"]\n'
        '    fre: "08:00-15:00"\n    sat: closed\n    "sun": "10:00-12:00"\n'
        "  closed_days: [2026-12-23]"
    )
    rules = _load(tmp_path, BASE.replace('business_hours: {mon-fri: "08:00-17:00"}', hours))
    bh = rules.calendar.business_hours
    assert bh[0] == ((time(8), time(12)), (time(13), time(17)))
    assert bh[4] == ((time(8), time(15)),)
    assert 5 not in bh
    assert bh[6] == ((time(10), time(12)),)
    assert rules.calendar.is_holiday(date(2026, 12, 23))


def test_later_day_key_overrides(tmp_path: Path) -> None:
    hours = 'business_hours: {mon-fri: "08:00-17:00", fri: "08:00-12:00"}'
    rules = _load(tmp_path, BASE.replace('business_hours: {mon-fri: "08:00-17:00"}', hours))
    assert rules.calendar.business_hours[4] == ((time(8), time(12)),)
    assert rules.calendar.business_hours[3] == ((time(8), time(17)),)


def test_unquoted_times_and_norway(tmp_path: Path) -> None:
    """YAML 1.1 would read 08:00 as a number and NO as false; the loader does not."""
    text = BASE.replace('"08:00-17:00"', "08:00-17:00").replace("holidays: SE", "holidays: NO")
    rules = _load(tmp_path, text)
    assert rules.calendar.holidays == "NO"
    assert rules.calendar.business_hours[0] == ((time(8), time(17)),)


def test_holiday_categories_as_one_word(tmp_path: Path) -> None:
    text = BASE.replace("  holidays: SE", "  holidays: SE\n  holiday_categories: de_facto")
    rules = _load(tmp_path, text)
    assert rules.calendar.holiday_categories == ("de_facto",)
    bad = BASE.replace("  holidays: SE", "  holidays: SE\n  holiday_categories: [pubic]")
    with pytest.raises(RulesError, match="unknown holiday category 'pubic'"):
        _load(tmp_path, bad)


def test_holiday_categories(tmp_path: Path) -> None:
    text = BASE.replace("  holidays: SE", "  holidays: SE\n  holiday_categories: [public]")
    rules = _load(tmp_path, text)
    assert not rules.calendar.is_holiday(date(2026, 6, 19))  # midsommarafton is de facto
    assert rules.calendar.is_holiday(date(2026, 6, 20))  # midsommardagen
    no_holidays = _load(tmp_path, BASE.replace("  holidays: SE", "  holidays: null"))
    assert not no_holidays.calendar.is_holiday(date(2026, 12, 25))


def test_defaults_for_optional_keys(tmp_path: Path) -> None:
    minimal = re.sub(r"calendar:\n(  .*\n)+", "", BASE)
    rules = _load(tmp_path, minimal)
    assert rules.language == "sv"
    assert rules.calendar.timezone.key == "Europe/Stockholm"
    assert rules.calendar.business_hours[0] == ((time(8), time(17)),)
    assert rules.calendar.holidays == "SE"
    assert rules.auto_close_after == timedelta(days=7)
    assert rules.answers_per_hour == 10
    assert rules.teams["team"].assign == "least_loaded"
    assert rules.priority("normal").remind_before is None


def test_category_rule_without_groups(tmp_path: Path) -> None:
    text = BASE.replace(
        "  - name: Övrigt\n",
        "  - name: Hyra\n    match: {to: hyra@firma.example}\n    recipient: a@firma.example\n"
        "    priority: normal\n  - name: Övrigt\n",
    )
    rules = _load(tmp_path, text)
    route = rules.route(make_mail("x", "y"), "hyra@firma.example")
    assert (route.category, route.group, route.recipient) == ("Hyra", "", "a@firma.example")
    assert route.reason.startswith('category "Hyra" (rules.yaml:')
    assert "hyra@firma.example" in rules.addresses
