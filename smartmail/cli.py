"""The `smartmail` command. Exit codes follow sysexits: 65 bad data, 75 try later, 78 bad config."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from smartmail import ingest, privacy_cli
from smartmail.admin.templates import check_overrides
from smartmail.app import App, open_app
from smartmail.clock import reports
from smartmail.clock.scheduler import sweep
from smartmail.config import Settings, load_settings, start_logging
from smartmail.daemon import Daemon
from smartmail.desk import cases, invoicing, search, search_filters, suppressions, views
from smartmail.desk.search_filters import BadFilter
from smartmail.errors import ConfigError, RulesError, TemporaryFailure
from smartmail.inbound import mailgate
from smartmail.inbound.early import EarlyListeners
from smartmail.mail.parse import parse
from smartmail.rules.explain import explain
from smartmail.rules.load import load_rules
from smartmail.rules.model import Rules
from smartmail.rules.on_call import explain_on_call
from smartmail.store.db import transaction
from smartmail.store.models import Case, utcnow

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_TEMPFAIL = 75
EX_CONFIG = 78
EX_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a stopped command

log = logging.getLogger("smartmail")


def _iso_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r}: give a time zone, e.g. {value}+01:00 or Z")
    return parsed


def _day_or_time(value: str) -> date | datetime:
    """`2026-11-01` (midnight in the rules' time zone) or an ISO time with its zone."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        return _iso_time(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartmail", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="the daemon: SMTP/LMTP listener, sender, scheduler")

    ingest = sub.add_parser("ingest", help="one raw mail through the pipeline (for an MTA pipe)")
    ingest.add_argument("file", nargs="?", default="-", help="a .eml file, or - for stdin")
    ingest.add_argument("--sender", help="the envelope sender, if the MTA passes it")
    ingest.add_argument("--recipient", action="append", default=[], help="envelope recipient")

    sweep = sub.add_parser("sweep", help="one scheduler pass as of a time")
    sweep.add_argument("--now", type=_iso_time, help="ISO time with zone (default: now)")

    rules = sub.add_parser("rules", help="check or explain the rules").add_subparsers(
        dest="rules_command", required=True
    )
    check = rules.add_parser("check", help="validate a rules file")
    check.add_argument("path", nargs="?", help="default: SMARTMAIL_RULES")
    check.add_argument("--now", type=_iso_time, help="who is on call then (ISO, with zone)")
    explain = rules.add_parser("explain", help="the route, owner and deadlines a mail would get")
    explain.add_argument("file", help="a .eml file")
    explain.add_argument("--now", type=_iso_time, help="as if it arrived then (ISO, with zone)")
    explain.add_argument("--to", help="the function address it came to (default: its To/Cc)")
    explain.add_argument("--rules", help="another rules file (default: SMARTMAIL_RULES)")

    case = sub.add_parser("case", help="read cases").add_subparsers(
        dest="case_command", required=True
    )
    listing = case.add_parser("list", help="list cases")
    listing.add_argument("--open", action="store_true", help="only open cases")
    listing.add_argument("--json", action="store_true")
    _search_options(listing)
    show = case.add_parser("show", help="one case with its messages and events")
    show.add_argument("number", type=int)
    show.add_argument("--json", action="store_true")
    show.add_argument(
        "--unmasked", action="store_true", help="personal numbers as written (logged)"
    )

    stats = sub.add_parser("stats", help="the weekly report's figures for a period")
    stats.add_argument("--since", type=_iso_time, help="ISO time with zone (default: 7 days ago)")
    stats.add_argument("--until", type=_iso_time, help="ISO time with zone (default: now)")
    stats.add_argument("--json", action="store_true")

    replay = sub.add_parser("replay", help="re-run quarantined mail")
    replay.add_argument("ids", nargs="*", type=int)

    export = sub.add_parser("export", help="the invoicing basis").add_subparsers(
        dest="export_command", required=True
    )
    basis = export.add_parser("time", help="one row per time or material entry")
    basis.add_argument("--since", type=_day_or_time, help="a date or ISO time (default: all)")
    basis.add_argument("--until", type=_day_or_time, help="not included (default: now)")
    basis.add_argument("--contractor", help="only the entries this address logged")
    basis.add_argument("--format", choices=("csv", "json"), default="csv")
    basis.add_argument(
        "--dialect", choices=invoicing.DIALECTS, default="se", help="csv: se (;) or excel (,)"
    )

    moving = sub.add_parser("import", help="move a mailbox in, oldest first; nothing is sent")
    moving.add_argument("path", help="an mbox file, a Maildir, or imap[s]://user:pass@host/Folder")
    moving.add_argument(
        "--closed-before",
        type=_day_or_time,
        help="close the cases whose last mail is older (a date or ISO time; default 30 days ago)",
    )
    sub.add_parser("doctor", help="check a setup: ok, warning or error per line, with what to do")

    suppressed = sub.add_parser("suppressed", help="addresses our mail bounced from for good")
    held = suppressed.add_subparsers(dest="suppressed_command")  # none: list
    held.add_parser(
        "list", help="the addresses no automatic mail goes to, and until when"
    ).add_argument("--json", action="store_true", help="as a JSON array")
    held.add_parser("remove", help="let automatic mail go to an address again").add_argument(
        "address"
    )
    add_privacy_commands(sub)
    return parser


def add_privacy_commands(sub: Any) -> None:
    reads = sub.add_parser("access-log", help="who read which case or person's data")
    reads.add_argument("--case", type=int, help="reads of one case")
    reads.add_argument("--person", help="reads by, or of, one address")
    reads.add_argument("--since", type=_iso_time, help="ISO time with zone")
    reads.add_argument("--json", action="store_true")
    person = sub.add_parser("person", help="one person's data: show, export, erase")
    asks = person.add_subparsers(dest="person_command", required=True)
    asks.add_parser("show", help="everything we hold about an address").add_argument("address")
    export = asks.add_parser("export", help="the same as JSON in a zip, with raw mails")
    export.add_argument("address")
    export.add_argument("--to", required=True, type=Path, help="the zip file to write")
    erase = asks.add_parser("erase", help="erase the person's data on every case now")
    erase.add_argument("address")
    erase.add_argument("--yes", action="store_true", help="do not ask")


def _search_options(listing: argparse.ArgumentParser) -> None:
    """`case list` filters: those of #search (desk/search_filters.py), each repeatable."""
    listing.add_argument("--search", default="", help="words the case's mail holds, all of them")
    for key, example in (
        ("status", "open, closed or a status"),
        ("label", "a label on the case"),
        ("type", "the case's type"),
        ("owner", "an owner's address or name, or none"),
        ("customer", "the customer's address, or @domain"),
    ):
        listing.add_argument(f"--{key}", action="append", default=[], help=example)
    listing.add_argument("--since", help="created on or after: a date, or ISO time with zone")
    listing.add_argument("--until", help="created on or before: a date, or ISO time with zone")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # For `ingest`, anything that goes wrong before the mail is stored must say "try again"
    # (75): an MTA bounces the mail on any other code.
    not_stored = EX_TEMPFAIL if args.command == "ingest" else EX_CONFIG
    if args.command == "rules" and args.rules_command == "check" and args.path:
        return cmd_rules_check(None, args)  # a named file needs no data dir
    if args.command == "doctor":
        return cmd_doctor()
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"smartmail: {exc}", file=sys.stderr)
        return not_stored
    start_logging(settings)
    if args.command == "rules" and args.rules_command == "check":
        return cmd_rules_check(settings, args)
    app = opened(settings, not_stored)
    if not isinstance(app, App):
        return app
    commands: dict[str, Callable[[App, argparse.Namespace], int]] = {
        "run": cmd_run,
        "ingest": cmd_ingest,
        "sweep": cmd_sweep,
        "case": cmd_case,
        "replay": cmd_replay,
        "stats": cmd_stats,
        "rules": cmd_rules_explain,
        "suppressed": cmd_suppressed,
        "export": cmd_export,
        "import": cmd_import,
        "access-log": privacy_cli.cmd_access_log,
        "person": privacy_cli.cmd_person,
    }
    try:
        return commands[args.command](app, args)
    finally:
        app.engine.dispose()


def opened(settings: Settings, not_stored: int = EX_CONFIG) -> App | int:
    """The app on `settings`, or the exit code after saying in one line why it cannot be."""
    try:
        return open_app(settings)
    except RulesError as exc:
        print(f"smartmail: the rules are wrong:\n{exc}", file=sys.stderr)
        return not_stored
    except ConfigError as exc:  # e.g. a database newer than this version
        print(f"smartmail: cannot start: {exc}", file=sys.stderr)
        return not_stored
    except (TemporaryFailure, SQLAlchemyError, OSError) as exc:
        print(f"smartmail: cannot start: {exc}", file=sys.stderr)
        return EX_TEMPFAIL


def cmd_run(app: App, args: argparse.Namespace) -> int:
    return asyncio.run(serve(app))


async def serve(app: App, early: EarlyListeners | None = None) -> int:
    """The daemon until it is stopped; its exit code."""
    try:
        await Daemon(app, early).run()
    except ConfigError as exc:  # e.g. a port in use: one line, and systemd does not restart
        print(f"smartmail: cannot start: {exc}", file=sys.stderr)
        return EX_CONFIG
    return EX_OK


def cmd_ingest(app: App, args: argparse.Namespace) -> int:
    raw = mailgate.read_mail(args.file)
    if raw is None:
        return EX_NOINPUT
    return ingest.store(app, raw, args.sender, args.recipient)


def _deliver(app: App, now: datetime) -> None:
    """Send what is due; what cannot be sent stays queued for the daemon."""
    try:
        report = app.deliver(now)
    except Exception as exc:  # the mail is stored by now: never fail the command for this
        log.warning("outbox not delivered now (the daemon will): %s", exc)
        return
    if report.retried or report.failed:
        log.warning("outbox: %s", report)
    try:
        sms = app.deliver_sms(now)
    except Exception as exc:  # queued SMS wait for the daemon, as mail does
        log.warning("SMS not sent now (the daemon will): %s", exc)
        return
    if sms.retried or sms.failed:
        log.warning("SMS: %s", sms)


def cmd_sweep(app: App, args: argparse.Namespace) -> int:
    now = args.now or utcnow()
    try:
        report = sweep(app, now)
    except TemporaryFailure as exc:
        print(f"smartmail sweep: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    print(f"sweep as of {now.isoformat()}: {report}")
    _deliver(app, now)
    return EX_OK


def cmd_case(app: App, args: argparse.Namespace) -> int:
    with transaction(app.engine) as session:
        if args.case_command == "list":
            try:
                rows = _listed(app, session, args)
            except BadFilter as exc:
                print(f"smartmail case list: {exc}", file=sys.stderr)
                return EX_USAGE
            print(
                views.json_lines(rows)
                if args.json
                else "\n".join(views.case_line(r, _zone(app)) for r in rows)
            )
            return EX_OK
        case = session.get(Case, args.number)
        if case is None:
            print(f"smartmail: no case {args.number}", file=sys.stderr)
            return EX_DATAERR
        data = views.case_detail(session, case)
        privacy_cli.record_case_read(session, data, args.unmasked)
    if not args.unmasked:
        data = views.masked(data)
    text = json.dumps(data, ensure_ascii=False, indent=2) if args.json else None
    print(text or views.case_text(data, _zone(app)))
    return EX_OK


def _listed(app: App, session: Session, args: argparse.Namespace) -> list[dict[str, Any]]:
    """What `case list` shows: all cases (or the open ones, or one owner's) read as rows,
    else the cases its filters find."""
    owners = args.owner
    plain = not (args.search or args.status or args.label or args.type or args.customer)
    plain = plain and not (args.since or args.until) and len(owners) <= 1
    if plain and (not owners or "@" in owners[0]):  # an address: no name to look up
        return views.listed_summaries(session, args.open, owners[0] if owners else None)
    filters = search_filters.parse_filters(args.search)
    for key in ("status", "label", "type", "owner", "customer", "since", "until"):
        given = getattr(args, key)
        for value in given if isinstance(given, list) else [given] if given else []:
            filters = filters.add(key, value)
    if args.open:
        filters = filters.add("status", "open")
    rules = app.rules()
    owners = search.resolve_owners(filters, rules, None)
    found = search.find(session, filters, owners, rules.calendar.timezone, limit=None)
    return list(views.case_summaries(session, found.cases[::-1]))


def _zone(app: App) -> ZoneInfo:
    """The rules' time zone: the times people read in the terminal are theirs."""
    return app.rules().calendar.timezone


def cmd_stats(app: App, args: argparse.Namespace) -> int:
    now = utcnow()
    until = args.until or now
    since = args.since or until - timedelta(days=7)
    if since >= until:
        print("smartmail stats: --since must be before --until", file=sys.stderr)
        return EX_USAGE
    with transaction(app.engine) as session:
        figures = reports.compute(session, since, until, now)
    if args.json:
        print(json.dumps(reports.as_dict(figures), ensure_ascii=False, indent=2))
    else:
        rules = app.rules()
        print(reports.as_text(figures, rules.language, rules.calendar.timezone), end="")
    return EX_OK


def cmd_replay(app: App, args: argparse.Namespace) -> int:
    lines = app.pipeline.replay(args.ids or None)
    print("\n".join(lines) if lines else "nothing in quarantine")
    _deliver(app, utcnow())
    return EX_OK if all("still failing" not in line for line in lines) else EX_DATAERR


def cmd_suppressed(app: App, args: argparse.Namespace) -> int:
    now = utcnow()
    with transaction(app.engine) as session:
        if args.suppressed_command == "remove":
            if not cases.lift_suppression(session, args.address, now):
                print(f"smartmail: {args.address} is not suppressed", file=sys.stderr)
                return EX_DATAERR
            print(f"{args.address.lower()}: removed; automatic mail goes to it again")
            return EX_OK
        rows = [suppressions.as_dict(row) for row in suppressions.active(session, now)]
    if getattr(args, "json", False):  # `suppressed` alone lists as text
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif rows:
        print("\n".join(suppressions.as_line(row) for row in rows))
    else:
        print("no address is suppressed")
    return EX_OK


def cmd_export(app: App, args: argparse.Namespace) -> int:
    zone = _zone(app)
    since, until = _moment(args.since, zone), _moment(args.until, zone)
    if since is not None and until is not None and since >= until:
        print("smartmail export: --since must be before --until", file=sys.stderr)
        return EX_USAGE
    with transaction(app.engine) as session:
        rows = invoicing.basis_rows(session, since, until, args.contractor)
    if args.format == "json":
        print(json.dumps(invoicing.as_json(rows, zone), ensure_ascii=False, indent=2))
    else:
        sys.stdout.buffer.write(invoicing.as_csv(rows, zone, args.dialect))
        sys.stdout.buffer.flush()
    return EX_OK


def _moment(value: date | datetime | None, zone: ZoneInfo) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), zone)


def cmd_import(app: App, args: argparse.Namespace) -> int:
    # Loaded here: the daemon never holds the IMAP client, tqdm or multiprocessing.
    from imapclient.exceptions import IMAPClientError

    from smartmail.inbound import importer
    from smartmail.inbound.mailboxes import open_mailbox

    before = _moment(args.closed_before, _zone(app)) or utcnow() - timedelta(days=30)
    try:
        mailbox = open_mailbox(args.path)
    except ConfigError as exc:
        print(f"smartmail import: {exc}", file=sys.stderr)
        return EX_NOINPUT
    except (OSError, IMAPClientError) as exc:  # refused, wrong login, no such folder
        print(f"smartmail import: cannot read the mailbox: {exc}", file=sys.stderr)
        return EX_NOINPUT
    counts = importer.Counts()
    # A stop from outside ends as Ctrl-C does: the batch in flight is rolled back.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        importer.move_in(app, mailbox, before, counts, sys.stderr)
    except KeyboardInterrupt:
        print(f"stopped after {counts.done} of {counts.found} mails: {counts.line()}")
        print("run the same command again to go on: what is stored is skipped, not doubled")
        return EX_INTERRUPTED
    except TemporaryFailure as exc:
        print(f"smartmail import: stopped, try again: {exc}", file=sys.stderr)
        print(f"stored {counts.done} of {counts.found} mails: {counts.line()}")
        return EX_TEMPFAIL
    finally:
        mailbox.close()
    print(f"imported {counts.done} mails: {counts.line()}")
    print(f"closed {counts.closed} cases whose last mail was before {before.isoformat()}")
    return EX_OK


def cmd_doctor() -> int:
    """Each finding on a line of its own; exit 78 when any is an error."""
    from smartmail.admin import doctor  # loads the IMAP client, which only it needs

    logging.disable(logging.CRITICAL)  # the findings say it all, once
    findings = []
    for finding in doctor.examine():
        print(finding, flush=True)
        findings.append(finding)
    worst = doctor.level_of(findings)
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warning" for f in findings)
    print(f"{errors} errors, {warnings} warnings")
    return EX_CONFIG if worst == "error" else EX_OK


def cmd_rules_check(settings: Settings | None, args: argparse.Namespace) -> int:
    path = Path(args.path) if args.path or settings is None else settings.rules_path
    try:
        rules = load_rules(path)
    except RulesError as exc:
        print(str(exc), file=sys.stderr)
        return EX_DATAERR
    overrides = _check_template_overrides(rules)
    if overrides is None:
        return EX_DATAERR
    groups = len(rules.groups)
    print(f"{path}: OK ({groups} groups, {len(rules.priorities)} priorities{overrides})")
    if rules.on_call is not None or args.now:
        print("\n".join(explain_on_call(rules, args.now or utcnow())))
    if rules.replies.names():  # each was rendered once as the rules loaded
        print(f"canned answers: {', '.join(rules.replies.names())}")
    return EX_OK


def _check_template_overrides(rules: Rules) -> str | None:
    """The office's templates rendered with sample data: None after printing what failed,
    else what to add to the OK line."""
    if rules.templates is None:
        return ""
    files, problems = check_overrides(rules.templates, rules.calendar.timezone)
    if problems:
        print("\n".join(str(p) for p in problems), file=sys.stderr)
        return None
    return f", {len(files)} templates of its own in {rules.templates}"


def cmd_rules_explain(app: App, args: argparse.Namespace) -> int:
    try:
        raw = Path(args.file).read_bytes()
        rules = load_rules(args.rules) if args.rules else app.rules()
    except OSError as exc:
        print(f"smartmail rules explain: {exc}", file=sys.stderr)
        return EX_NOINPUT
    except RulesError as exc:
        print(str(exc), file=sys.stderr)
        return EX_DATAERR
    with transaction(app.engine) as session:
        lines = explain(
            rules,
            parse(raw),
            args.now or utcnow(),
            lambda recipient: cases.pick_owner(session, rules, recipient),
            args.to,
        )
        session.rollback()  # explaining stores nothing
    print("\n".join(lines))
    return EX_OK
