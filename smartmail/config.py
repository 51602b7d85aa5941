"""Settings from the environment and `.env`, validated once; nothing else reads the environment."""

from __future__ import annotations

import logging
import os
import re
import secrets
import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from dotenv import dotenv_values

from smartmail.errors import ConfigError

# Every setting, its default and what it does; the README's table is checked against this.
SETTINGS: dict[str, tuple[str, str]] = {
    "SMARTMAIL_DATA_DIR": ("./data", "runtime state: database, raw mail, attachments, sent mail"),
    "SMARTMAIL_DATABASE_URL": (
        "sqlite:///<data dir>/smartmail.db",
        "a `postgresql+psycopg://` URL for the shared engine",
    ),
    "SMARTMAIL_RULES": ("./rules.yaml", "the admin's rules file"),
    "SMARTMAIL_LISTEN": (
        "127.0.0.1:8025",
        "inbound SMTP, host:port; `off` for no SMTP listener (LMTP or IMAP only)",
    ),
    "SMARTMAIL_LMTP_LISTEN": ("unset", "inbound LMTP for an MTA, host:port"),
    "SMARTMAIL_ADDRESS": (
        "the rules' `address`, else `support@localhost`",
        "the function address; the From of every mail sent; wins over the rules when set",
    ),
    "SMARTMAIL_OUTBOUND": (
        "unset",
        "unset = write sent mail as .eml files to `<data dir>/sent/`; "
        "`smtp://host:port` or `smtps://user:pass@host:port` to relay",
    ),
    "SMARTMAIL_OUTBOUND_TLS": (
        "`may` for `smtp://` without a login, else `verify`",
        "TLS to the relay: `may` = STARTTLS when offered, the certificate not checked (an "
        "MTA's default); `verify` = TLS required and the certificate checked; `none` = no TLS",
    ),
    "SMARTMAIL_OUTBOUND_CA": (
        "unset = the system's CAs",
        "a PEM file with the relay's certificate or its CA, to check it by (implies `verify`)",
    ),
    "SMARTMAIL_IMAP": (
        "unset",
        "mailboxes to read: `imap://user:pass@host:port/INBOX` or `imaps://...`, "
        "comma-separated; `?address=` names the function address the mail came to",
    ),
    "SMARTMAIL_IMAP_PROCESSED": ("Processed", "IMAP folder that stored mail is moved to"),
    "SMARTMAIL_IMAP_FAILED": ("Failed", "IMAP folder for mail that will never be accepted"),
    "SMARTMAIL_SECRET": (
        "unset = generated once into `<data dir>/secret`",
        "signs case tokens and reply addresses",
    ),
    "SMARTMAIL_MAX_MESSAGE_SIZE": ("26214400", "largest inbound mail in bytes (SMTP 552 above)"),
    "SMARTMAIL_LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING or ERROR"),
    "SMARTMAIL_SMS": (
        "`log`",
        "how SMS leave: `log` writes each to `<data dir>/sms/`; "
        "`46elks://user:pass@api.46elks.com?from=Name` or `webhook+https://host/path`",
    ),
    "SMARTMAIL_WEB_LISTEN": ("unset = no web", "the fault-report page and case links, host:port"),
    "SMARTMAIL_WEB_URL": (
        "unset",
        "the page's public address (`https://felanmalan.bostad.example`); when set, the "
        "acknowledgement carries a link to follow the case",
    ),
    "SMARTMAIL_WEB_TRUSTED_PROXIES": (
        "unset",
        "addresses or networks of the reverse proxy, comma-separated; only from these is "
        "`X-Forwarded-For` believed",
    ),
}


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


TLS_LEVELS = ("may", "verify", "none")


@dataclass(frozen=True)
class Relay:
    """Where outgoing mail goes: an SMTP relay, optionally with implicit TLS and login.

    `security` is how TLS is used, as an MTA's TLS security level: `may` (STARTTLS when
    offered, the certificate not checked), `verify` (TLS required, the certificate checked
    against `ca_file`, else the system's CAs), `none` (plain text).
    """

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None = field(repr=False)
    security: str = "verify"
    ca_file: Path | None = None


@dataclass(frozen=True)
class ImapMailbox:
    """A mailbox to read, and the function address its mail counts as sent to (if any)."""

    host: str
    port: int
    tls: bool
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    address: str | None = None

    def __str__(self) -> str:
        # For log lines: never the password.
        scheme = "imaps" if self.tls else "imap"
        return f"{scheme}://{self.username}@{self.host}:{self.port}/{self.folder}"


SMS_KINDS = {"log": "", "46elks": "https", "46elks+http": "http"}
SMS_KINDS |= {"webhook+https": "https", "webhook+http": "http"}


@dataclass(frozen=True)
class SmsGateway:
    """How SMS leave (SMARTMAIL_SMS): `log` files, a 46elks-style form POST with basic auth,
    or a JSON webhook (signed with `sign_secret` when set). `reply_secret` is the shared
    secret in the URL the gateway delivers replies to."""

    kind: str = "log"  # log | 46elks | webhook
    url: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "smartmail"  # the `from` of an SMS: a name of up to 11 letters, or a number
    sign_secret: str | None = field(default=None, repr=False)
    reply_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    rules_path: Path
    listen: HostPort | None  # None: SMARTMAIL_LISTEN=off
    lmtp_listen: HostPort | None
    address: str | None
    outbound: Relay | None
    imap: tuple[ImapMailbox, ...]
    secret: bytes
    max_message_size: int
    log_level: str
    imap_processed: str = "Processed"
    imap_failed: str = "Failed"
    sms: SmsGateway = field(default_factory=SmsGateway)
    web_listen: HostPort | None = None
    web_url: str = ""  # without a trailing slash; "" = no follow links in mail
    web_trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    # systemd's, not ours: where to send READY=1 and the like, and how often to say we live.
    notify_socket: str | None = None
    watchdog_usec: int = 0

    @property
    def attachment_dir(self) -> Path:
        return self.data_dir / "attachments"

    @property
    def sent_dir(self) -> Path:
        return self.data_dir / "sent"


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> Settings:
    """Read settings: `environ` (default os.environ) wins over the `.env` file."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)

    def get(name: str) -> str | None:
        value = values.get(name, "").strip()
        return value or None

    data_dir = Path(get("SMARTMAIL_DATA_DIR") or "./data").resolve()
    _refuse_nowhere(data_dir, Path(get("SMARTMAIL_RULES") or "./rules.yaml"))
    data_dir.mkdir(parents=True, exist_ok=True)
    imap = parse_imap(get("SMARTMAIL_IMAP"))
    return Settings(
        data_dir=data_dir,
        database_url=get("SMARTMAIL_DATABASE_URL") or f"sqlite:///{data_dir / 'smartmail.db'}",
        rules_path=Path(get("SMARTMAIL_RULES") or "./rules.yaml"),
        listen=_listen(get("SMARTMAIL_LISTEN") or "127.0.0.1:8025"),
        lmtp_listen=_optional(get("SMARTMAIL_LMTP_LISTEN"), "SMARTMAIL_LMTP_LISTEN"),
        address=_address(get("SMARTMAIL_ADDRESS")),
        outbound=parse_relay(
            get("SMARTMAIL_OUTBOUND"), get("SMARTMAIL_OUTBOUND_TLS"), get("SMARTMAIL_OUTBOUND_CA")
        ),
        imap=imap,
        imap_processed=_imap_folder("SMARTMAIL_IMAP_PROCESSED", get, "Processed", imap),
        imap_failed=_imap_folder("SMARTMAIL_IMAP_FAILED", get, "Failed", imap),
        secret=_secret(get("SMARTMAIL_SECRET"), data_dir),
        max_message_size=_positive_int(
            "SMARTMAIL_MAX_MESSAGE_SIZE", get("SMARTMAIL_MAX_MESSAGE_SIZE"), 26214400
        ),
        log_level=_log_level(get("SMARTMAIL_LOG_LEVEL") or "INFO"),
        sms=parse_sms(get("SMARTMAIL_SMS")),
        web_listen=_optional(get("SMARTMAIL_WEB_LISTEN"), "SMARTMAIL_WEB_LISTEN"),
        web_url=_web_url(get("SMARTMAIL_WEB_URL")),
        web_trusted_proxies=_networks(get("SMARTMAIL_WEB_TRUSTED_PROXIES")),
        notify_socket=get("NOTIFY_SOCKET"),
        watchdog_usec=_watchdog_usec(get("WATCHDOG_USEC"), get("WATCHDOG_PID")),
    )


def _refuse_nowhere(data_dir: Path, rules_path: Path) -> None:
    """Neither a data dir nor a rules file here: the command runs in the wrong place, and
    would start an empty desk of its own rather than find the office's."""
    if data_dir.is_dir() or rules_path.is_file():
        return
    raise ConfigError(
        f"no data dir at {data_dir} (SMARTMAIL_DATA_DIR) and no rules file at "
        f"{rules_path.resolve()} (SMARTMAIL_RULES): run smartmail where they are, "
        "or set those two (e.g. in .env); a new desk starts from a rules file"
    )


def _listen(value: str) -> HostPort | None:
    if value.lower() == "off":
        return None
    return parse_host_port("SMARTMAIL_LISTEN", value)


def _watchdog_usec(value: str | None, pid: str | None) -> int:
    """systemd's watchdog interval, when it is meant for this process (not a parent's)."""
    if value is None or not value.isdigit() or (pid is not None and pid != str(os.getpid())):
        return 0
    return int(value)


def parse_host_port(name: str, value: str) -> HostPort:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"{name}={value!r}: expected host:port, e.g. 127.0.0.1:8025")
    return HostPort(host.strip("[]") or "127.0.0.1", int(port))


def parse_relay(
    value: str | None, security: str | None = None, ca_file: str | None = None
) -> Relay | None:
    """SMARTMAIL_OUTBOUND with its TLS settings (SMARTMAIL_OUTBOUND_TLS, _CA)."""
    if value is None:
        if security or ca_file:
            named = "SMARTMAIL_OUTBOUND_TLS" if security else "SMARTMAIL_OUTBOUND_CA"
            raise ConfigError(f"{named} is set, but SMARTMAIL_OUTBOUND (the relay) is not")
        return None
    url, port = _server_url(
        "SMARTMAIL_OUTBOUND",
        value,
        {"smtp": 25, "smtps": 465},
        "smtp://host:port or smtps://user:pass@host:port",
    )
    assert url.hostname is not None
    implicit = url.scheme == "smtps"
    level = _tls_level(security, ca_file, implicit or bool(url.username))
    if implicit and level == "none":
        raise ConfigError(
            "SMARTMAIL_OUTBOUND_TLS=none: an smtps:// relay speaks TLS from the start; "
            "use smtp:// for a relay without TLS"
        )
    return Relay(
        host=url.hostname,
        port=port,
        tls=implicit,
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        security=level,
        ca_file=_ca_file(ca_file),
    )


def _tls_level(value: str | None, ca_file: str | None, verify_by_default: bool) -> str:
    """The TLS level: as set; else `verify` for smtps://, a login or a CA file; else `may`."""
    if value is None:
        return "verify" if verify_by_default or ca_file else "may"
    level = value.lower()
    if level not in TLS_LEVELS:
        raise ConfigError(f"SMARTMAIL_OUTBOUND_TLS={value!r}: expected may, verify or none")
    if ca_file and level != "verify":
        raise ConfigError(
            f"SMARTMAIL_OUTBOUND_CA is set, but SMARTMAIL_OUTBOUND_TLS={value}: "
            "the CA file is only used to verify (set SMARTMAIL_OUTBOUND_TLS=verify)"
        )
    return level


def _ca_file(value: str | None) -> Path | None:
    """The CA file, checked now: a bad one must stop the start, not every mail later."""
    if value is None:
        return None
    path = Path(value).expanduser().resolve()
    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"SMARTMAIL_OUTBOUND_CA={value!r}: not a readable PEM certificate file: {exc}"
        ) from exc
    return path


def _server_url(
    name: str, value: str, default_ports: dict[str, int], expected: str
) -> tuple[SplitResult, int]:
    """A server URL of one of the schemes, and its port; errors never show the password."""
    shown = _without_password(value)
    try:
        url = urlsplit(value)
        scheme_ok = url.scheme in default_ports and bool(url.hostname)
        port = (url.port or default_ports[url.scheme]) if scheme_ok else 0
    except ValueError as exc:
        raise ConfigError(f"{name}={shown!r}: {exc}") from exc
    if not scheme_ok:
        raise ConfigError(f"{name}={shown!r}: expected {expected}")
    return url, port


# What an error message may show of SMARTMAIL_SMS: no password, no secret.
_SMS_SECRETS = re.compile(r"(://[^:/@?]*:|[?&](?:reply_)?secret=)[^@&]*")


def parse_sms(value: str | None) -> SmsGateway:
    """SMARTMAIL_SMS: `log`, `log://?reply_secret=S`, `46elks://user:pass@host[/path]?from=
    Name&reply_secret=S` (HTTPS; `46elks+http://` for a gateway on loopback) or
    `webhook+https://[user:pass@]host/path?secret=S&reply_secret=S`."""
    if value is None or value == "log":
        return SmsGateway()
    shown = _SMS_SECRETS.sub(r"\1***", value)
    kind, sep, rest = value.partition("://")
    if not sep or kind not in SMS_KINDS:
        raise ConfigError(
            f"SMARTMAIL_SMS={shown!r}: expected log, 46elks://user:pass@api.46elks.com "
            "or webhook+https://host/path"
        )
    try:
        url = urlsplit(f"{SMS_KINDS[kind] or 'log'}://{rest}")
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        url.port  # noqa: B018  (a bad port raises here)
    except ValueError as exc:
        raise ConfigError(f"SMARTMAIL_SMS={shown!r}: {exc}") from exc
    unknown = sorted(set(params) - {"from", "secret", "reply_secret"})
    if unknown:
        raise ConfigError(f"SMARTMAIL_SMS={shown!r}: unknown parameter {unknown[0]!r}")
    base = kind.partition("+")[0]
    if base == "log":
        return SmsGateway(reply_secret=params.get("reply_secret"))
    return _sms_gateway(base, url, params, shown)


def _sms_gateway(base: str, url: SplitResult, params: dict[str, str], shown: str) -> SmsGateway:
    if not url.hostname:
        raise ConfigError(f"SMARTMAIL_SMS={shown!r}: the gateway's host is missing")
    if base == "46elks" and (url.username is None or url.password is None):
        raise ConfigError(f"SMARTMAIL_SMS={shown!r}: 46elks needs the API user and password")
    path = url.path or ("/a1/sms" if base == "46elks" else "/")
    netloc = url.hostname if url.port is None else f"{url.hostname}:{url.port}"
    return SmsGateway(
        kind=base,
        url=f"{url.scheme}://{netloc}{path}",
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        sender=params.get("from", "smartmail"),
        sign_secret=params.get("secret"),
        reply_secret=params.get("reply_secret"),
    )


def parse_imap(value: str | None) -> tuple[ImapMailbox, ...]:
    """SMARTMAIL_IMAP: one or more mailbox URLs, comma-separated (quote a comma as %2C)."""
    return tuple(parse_imap_url(url.strip()) for url in (value or "").split(",") if url.strip())


def parse_imap_url(value: str) -> ImapMailbox:
    """`imap[s]://user:pass@host[:port][/FOLDER][?address=...]`, user and pass URL-quoted."""
    shown = _without_password(value)
    url, port = _server_url(
        "SMARTMAIL_IMAP",
        value,
        {"imap": 143, "imaps": 993},
        "imap://user:pass@host:port/FOLDER or imaps://...",
    )
    if url.username is None or url.password is None:
        raise ConfigError(f"SMARTMAIL_IMAP={shown!r}: the user and password are missing")
    assert url.hostname is not None
    return ImapMailbox(
        host=url.hostname,
        port=port,
        tls=url.scheme == "imaps",
        username=unquote(url.username),
        password=unquote(url.password),
        folder=unquote(url.path.lstrip("/")) or "INBOX",
        address=_imap_address(shown, url.query),
    )


def _imap_address(shown: str, query: str) -> str | None:
    try:
        params = parse_qs(query, strict_parsing=bool(query))
    except ValueError as exc:
        raise ConfigError(f"SMARTMAIL_IMAP={shown!r}: bad query: {exc}") from exc
    unknown = sorted(set(params) - {"address"})
    if unknown:
        raise ConfigError(f"SMARTMAIL_IMAP={shown!r}: unknown parameter {unknown[0]!r}")
    addresses = params.get("address", [])
    if len(addresses) > 1:
        raise ConfigError(f"SMARTMAIL_IMAP={shown!r}: more than one address")
    if not addresses:
        return None
    address = addresses[0].strip()
    if "@" not in address or " " in address:
        raise ConfigError(f"SMARTMAIL_IMAP={shown!r}: address={address!r} is no email address")
    return address.lower()


def _without_password(value: str) -> str:
    """The URL as error messages may show it: the password replaced by ***."""
    try:
        url = urlsplit(value)
    except ValueError:
        return "(a malformed URL)"
    userinfo, at, hostport = url.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return value
    return url._replace(netloc=f"{userinfo.partition(':')[0]}:***@{hostport}").geturl()


def _imap_folder(
    name: str, get: Callable[[str], str | None], default: str, mailboxes: tuple[ImapMailbox, ...]
) -> str:
    """Where filed mail goes; never the folder being read, or the daemon would read it again."""
    folder = get(name) or default
    for mailbox in mailboxes:
        same = folder == mailbox.folder or folder.upper() == mailbox.folder.upper() == "INBOX"
        if same:
            raise ConfigError(f"{name}={folder!r} is the folder read from {mailbox}")
    return folder


def _optional(value: str | None, name: str) -> HostPort | None:
    return parse_host_port(name, value) if value else None


def _address(value: str | None) -> str | None:
    if value is None:
        return None
    if "@" not in value or " " in value:
        raise ConfigError(f"SMARTMAIL_ADDRESS={value!r}: expected an email address")
    return value.lower()


def _secret(value: str | None, data_dir: Path) -> bytes:
    if value:
        return value.encode()
    path = data_dir / "secret"
    if not path.exists():
        # Created once with owner-only rights; every later start reuses it so old tokens stay valid.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _positive_int(name: str, value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or int(value) <= 0:
        raise ConfigError(f"{name}={value!r}: expected a positive whole number")
    return int(value)


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"SMARTMAIL_LOG_LEVEL={value!r}: expected DEBUG, INFO, WARNING or ERROR")
    return level


def _web_url(value: str | None) -> str:
    """SMARTMAIL_WEB_URL: where people reach the page, as links in mail name it."""
    if value is None:
        return ""
    try:
        url = urlsplit(value)
    except ValueError as exc:
        raise ConfigError(f"SMARTMAIL_WEB_URL={value!r}: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise ConfigError(
            f"SMARTMAIL_WEB_URL={value!r}: expected http(s)://host[/path], "
            "e.g. https://felanmalan.bostad.example"
        )
    return value.rstrip("/")


def _networks(value: str | None) -> tuple[IPv4Network | IPv6Network, ...]:
    """SMARTMAIL_WEB_TRUSTED_PROXIES: `127.0.0.1, 10.0.0.0/8`."""
    found = []
    for item in (value or "").split(","):
        if not item.strip():
            continue
        try:
            found.append(ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(
                f"SMARTMAIL_WEB_TRUSTED_PROXIES={value!r}: {exc}; expected addresses or "
                "networks such as 127.0.0.1 or 10.0.0.0/8, comma-separated"
            ) from exc
    return tuple(found)


def start_logging(settings: Settings) -> None:
    """Log lines to stderr at the settings' level. Every SMTP command, scheduler tick and
    migration step is noise outside debugging (smartmail.store.schema says what a migration
    did in one line)."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if settings.log_level != "DEBUG":
        for chatty in ("mail.log", "apscheduler", "alembic"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
