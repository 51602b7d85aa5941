"""`smartmail doctor`: a setup checked as `postfix check` and `nginx -t` do, one line per
finding, each ok, warning or error with what to do. Nothing is changed: no database is made
or upgraded, no IMAP folder created, no mail sent (the secret and the data dir are made as by
any command, next to a rules file)."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import ssl
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from smartmail.admin.templates import check_overrides
from smartmail.config import HostPort, ImapMailbox, Settings, load_settings
from smartmail.errors import ConfigError, RelayTrouble, RulesError
from smartmail.outbound.relay import SmtpTransport
from smartmail.rules.load import load_rules
from smartmail.rules.model import Rules
from smartmail.store import schema

LEVELS = ("ok", "warning", "error")
MIN_FREE = 100 * 2**20  # below this, mail is about to be refused for want of room
LOW_FREE = 2**30
TIMEOUT = 10.0


@dataclass(frozen=True)
class Finding:
    level: str  # ok | warning | error
    topic: str  # what was checked: "settings", "relay", ...
    text: str  # what was found, and what to do

    def __str__(self) -> str:
        return f"{self.level:<8}{self.topic}: {self.text}"


def examine(environ: dict[str, str] | None = None) -> Iterator[Finding]:
    """Every finding, in the order an admin fixes things: settings first."""
    try:
        settings = load_settings(environ)
    except ConfigError as exc:
        yield Finding("error", "settings", f"{exc}; nothing else can be checked before that")
        return
    yield Finding("ok", "settings", "read (environment and .env)")
    rules, findings = _rules(settings)
    yield from findings
    for check in (_data_dir, _secret, _database, _relay, _imap, _ports):
        yield from check(settings)
    if rules is not None:
        yield from _addresses(settings, rules)


def _rules(settings: Settings) -> tuple[Rules | None, list[Finding]]:
    path = settings.rules_path
    if not path.is_file():
        return None, [
            Finding("error", "rules", f"no rules file at {path.resolve()}: set SMARTMAIL_RULES")
        ]
    try:
        rules = load_rules(path)
    except RulesError as exc:
        why = "(the daemon keeps its last good rules)"
        return None, [Finding("error", "rules", f"{problem} {why}") for problem in exc.problems]
    return rules, list(_rules_in_force(path, rules))


def _rules_in_force(path: Path, rules: Rules) -> Iterator[Finding]:
    yield Finding(
        "ok", "rules", f"{path}: {len(rules.groups)} groups, {len(rules.priorities)} priorities"
    )
    if rules.templates is not None:
        files, problems = check_overrides(rules.templates, rules.calendar.timezone)
        for problem in problems:
            yield Finding("error", "templates", f"{problem} (the shipped one is sent instead)")
        if not problems:
            yield Finding("ok", "templates", f"{len(files)} of the office's own render")


def _data_dir(settings: Settings) -> Iterator[Finding]:
    folder = settings.data_dir
    probe = folder / ".doctor-probe"
    try:
        probe.write_bytes(b"x")
        probe.unlink()
    except OSError as exc:
        yield Finding("error", "data dir", f"{folder} is not writable ({exc.strerror}): chown it")
        return
    free = shutil.disk_usage(folder).free
    room = f"{folder}: writable, {free / 2**30:.1f} GiB free"
    if free < MIN_FREE:
        yield Finding("error", "data dir", f"{room}: make room, or mail is refused")
    elif free < LOW_FREE:
        yield Finding("warning", "data dir", f"{room}: make room before it runs out")
    else:
        yield Finding("ok", "data dir", room)


def _secret(settings: Settings) -> Iterator[Finding]:
    path = settings.data_dir / "secret"
    if settings.secret != _file_secret(path):
        yield _secret_in_settings(Path(".env").resolve(), settings.secret)
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & stat.S_IROTH:
        yield Finding("error", "secret", f"{path} is world-readable: chmod 600 {path}")
    else:
        yield Finding(
            "ok",
            "secret",
            f"{path}, readable by its owner{' and group' * bool(mode & stat.S_IRGRP)} only",
        )


def _secret_in_settings(env_file: Path, secret: bytes) -> Finding:
    """SMARTMAIL_SECRET is set: from a .env file anyone may read, it is no secret."""
    readable = env_file.is_file() and stat.S_IMODE(env_file.stat().st_mode) & stat.S_IROTH
    if readable and secret in env_file.read_bytes():
        return Finding("error", "secret", f"{env_file} is world-readable: chmod 600 {env_file}")
    if len(secret) < 16:
        return Finding("warning", "secret", "SMARTMAIL_SECRET is short: use 32 random bytes")
    return Finding("ok", "secret", "SMARTMAIL_SECRET is set")


def _file_secret(path: Path) -> bytes | None:
    try:
        return path.read_text().strip().encode()
    except OSError:
        return None


def _database(settings: Settings) -> Iterator[Finding]:
    url = make_url(settings.database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        yield Finding("warning", "database", f"none yet at {url.database}: made on first start")
        return
    engine = create_engine(
        url, connect_args={"connect_timeout": 10} if url.get_backend_name() == "postgresql" else {}
    )
    try:
        with engine.connect() as connection:
            current = schema.revision_of(connection)
    except SQLAlchemyError as exc:
        reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0]
        yield Finding(
            "error", "database", f"{shown} does not open: {reason}; check SMARTMAIL_DATABASE_URL"
        )
        return
    finally:
        engine.dispose()
    yield _revision_finding(shown, current)


def _revision_finding(shown: str, current: str | None) -> Finding:
    if current == schema.HEAD:
        return Finding("ok", "database", f"{shown} at the newest schema revision {current}")
    if current is None:
        return Finding(
            "warning", "database", f"{shown} holds no schema revision: made on first start"
        )
    if current > schema.HEAD:
        return Finding(
            "error",
            "database",
            f"{shown} is at revision {current}, newer than this smartmail ({schema.HEAD}): "
            "install the version that upgraded it",
        )
    return Finding(
        "warning",
        "database",
        f"{shown} is at revision {current}: the next start upgrades it to {schema.HEAD}; "
        "back it up first",
    )


def _relay(settings: Settings) -> Iterator[Finding]:
    relay = settings.outbound
    if relay is None:
        yield Finding(
            "ok",
            "relay",
            f"none: sent mail is written to {settings.sent_dir} (SMARTMAIL_OUTBOUND unset)",
        )
        return
    where = f"{relay.host}:{relay.port}"
    try:
        how = SmtpTransport(relay, timeout=TIMEOUT).check()
    except RelayTrouble as exc:
        yield Finding(
            "error", "relay", f"{exc}; check SMARTMAIL_OUTBOUND and SMARTMAIL_OUTBOUND_TLS"
        )
        return
    yield Finding("ok", "relay", f"{where} answers EHLO ({how}, TLS level {relay.security})")


def _imap(settings: Settings) -> Iterator[Finding]:
    for mailbox in settings.imap:
        yield from _mailbox(mailbox, settings)


def _mailbox(mailbox: ImapMailbox, settings: Settings) -> Iterator[Finding]:
    try:
        with IMAPClient(
            mailbox.host,
            port=mailbox.port,
            ssl=mailbox.tls,
            ssl_context=ssl.create_default_context() if mailbox.tls else None,
            timeout=TIMEOUT,
        ) as client:
            client.login(mailbox.username, mailbox.password)
            missing = [f for f in _folders(mailbox, settings) if not client.folder_exists(f)]
    except (OSError, IMAPClientError) as exc:
        yield Finding("error", "imap", f"{mailbox}: {exc}; check SMARTMAIL_IMAP")
        return
    if mailbox.folder in missing:
        yield Finding(
            "error",
            "imap",
            f"{mailbox}: no folder {mailbox.folder!r} to read; check SMARTMAIL_IMAP",
        )
    elif missing:
        made = ", ".join(missing)
        yield Finding("warning", "imap", f"{mailbox}: logs in; {made} made on first start")
    else:
        yield Finding("ok", "imap", f"{mailbox}: logs in, its folders exist")


def _folders(mailbox: ImapMailbox, settings: Settings) -> list[str]:
    return [mailbox.folder, settings.imap_processed, settings.imap_failed]


def _ports(settings: Settings) -> Iterator[Finding]:
    for name, where in (
        ("SMARTMAIL_LISTEN", settings.listen),
        ("SMARTMAIL_LMTP_LISTEN", settings.lmtp_listen),
    ):
        if where is not None and where.port != 0:
            yield _port(name, where)


def _port(name: str, where: HostPort) -> Finding:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the daemon binds
        try:
            sock.bind((where.host, where.port))
            return Finding("ok", "ports", f"{where} ({name}) is free")
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return Finding(
                    "error", "ports", f"{where} ({name}): {os.strerror(exc.errno or 0)}; set {name}"
                )
    banner = _banner(where)
    if "smartmail" in banner:
        return Finding("ok", "ports", f"{where} ({name}) is held by a running smartmail")
    return Finding(
        "error",
        "ports",
        f"{where} ({name}) is in use by another program ({banner or 'no banner'}): "
        f"stop it, or set {name}",
    )


def _banner(where: HostPort) -> str:
    try:
        with socket.create_connection((where.host, where.port), timeout=TIMEOUT) as sock:
            return sock.recv(512).decode("ascii", "replace").strip()
    except OSError:
        return ""


def _addresses(settings: Settings, rules: Rules) -> Iterator[Finding]:
    ours = set(rules.addresses)
    if settings.address and settings.address not in ours:
        yield Finding(
            "warning",
            "addresses",
            f"SMARTMAIL_ADDRESS={settings.address} is not among the rules' addresses "
            f"({', '.join(sorted(ours))}): it wins, so mail we send comes from it; "
            "add it to `addresses:` or unset it",
        )
    for mailbox in settings.imap:
        if mailbox.address and mailbox.address not in ours | {settings.address}:
            yield Finding(
                "error",
                "addresses",
                f"{mailbox} stands for {mailbox.address}, which the rules do not name: "
                "add it to `addresses:`",
            )
    for person in rules.people:
        if person.email.lower() in ours:
            yield Finding(
                "error",
                "addresses",
                f"{person.email} is both a person in the rules and a function address: "
                "our own mail would come back to us",
            )
    main = settings.address or rules.address or "support@localhost"
    if main.endswith("@localhost"):
        yield Finding(
            "warning", "addresses", f"the function address is {main}: set `address:` in the rules"
        )
    else:
        yield Finding("ok", "addresses", f"the function address is {main}; {len(ours)} in all")


def level_of(findings: list[Finding]) -> str:
    return max((f.level for f in findings), key=LEVELS.index, default="ok")
