"""`smartmail doctor` against the real servers the tests start (the SMTP sink as the relay,
a private Dovecot, a private PostgreSQL): a good setup is all ok, then one broken setting at
a time is one error (or warning) saying what to do."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smartmail.store.db import make_engine
from tests.conftest import TEST_RULES, Sink, free_port
from tests.e2e.daemon import daemon_env, run_cli, start_daemon
from tests.e2e.dovecot import Dovecot, running_dovecot
from tests.e2e.postgres import Postgres, postgres_server, postgres_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e

EX_CONFIG = 78


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


@pytest.fixture
def good(
    tmp_path: Path,
    rules_path: Path,
    sink: Sink,
    dovecot: Dovecot,
    postgres_url: str,  # noqa: F811
) -> dict[str, str]:
    """A setup with nothing wrong: relay, mailbox with its folders, database at the newest."""
    user = "desk" + secrets.token_hex(4)
    with dovecot.client(user) as client:
        client.create_folder("Processed")
        client.create_folder("Failed")
    make_engine(postgres_url).dispose()  # brought to the newest revision
    return daemon_env(
        tmp_path / "data",
        rules_path,
        SMARTMAIL_LISTEN=f"127.0.0.1:{free_port()}",
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}",
        SMARTMAIL_DATABASE_URL=postgres_url,
        SMARTMAIL_IMAP=dovecot.url(user, address="felanmalan@bostad.example"),
        SMARTMAIL_SECRET=secrets.token_hex(32),
    )


def doctor(env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    result = run_cli(env, cwd, "doctor")
    lines = result.stdout.decode().splitlines()
    assert result.stderr.decode() == ""
    return result.returncode, lines


def test_a_good_setup_is_all_ok(good: dict[str, str], tmp_path: Path) -> None:
    code, lines = doctor(good, tmp_path)
    assert code == 0, lines
    assert lines[-1] == "0 errors, 0 warnings"
    topics = [line.split()[1].rstrip(":") for line in lines[:-1]]
    assert topics == [
        "settings",
        "rules",
        "data",
        "secret",
        "database",
        "relay",
        "imap",
        "ports",
        "addresses",
    ]
    assert all(line.startswith("ok ") for line in lines[:-1]), lines


Break = Callable[[dict[str, str], Path], None]


def _set(**values: str) -> Break:
    def apply(env: dict[str, str], folder: Path) -> None:
        env.update({k: v.format(**env) for k, v in values.items()})

    return apply


def _rules(extra: str) -> Break:
    def apply(env: dict[str, str], folder: Path) -> None:
        Path(env["SMARTMAIL_RULES"]).write_text(TEST_RULES + extra, encoding="utf-8")

    return apply


def _secret_readable_by_all(env: dict[str, str], folder: Path) -> None:
    del env["SMARTMAIL_SECRET"]
    data = Path(env["SMARTMAIL_DATA_DIR"])
    data.mkdir()
    (data / "secret").write_text("s3cret")
    (data / "secret").chmod(0o644)


def _secret_in_a_readable_env_file(env: dict[str, str], folder: Path) -> None:
    dotenv = folder / ".env"
    dotenv.write_text(f"SMARTMAIL_SECRET={env.pop('SMARTMAIL_SECRET')}\n")
    dotenv.chmod(0o644)


def _broken_template(env: dict[str, str], folder: Path) -> None:
    (folder / "own" / "sv").mkdir(parents=True)
    (folder / "own" / "sv" / "ack.txt").write_text("Subject: x\n\n{{ case.nummer + 1 }}\n")
    _rules(f"templates: {folder / 'own'}\n")(env, folder)


def _imap(**change: str) -> Break:
    def apply(env: dict[str, str], folder: Path) -> None:
        url = env["SMARTMAIL_IMAP"]
        for old, new in change.items():
            url = url.replace(old.replace("_", "-"), new)
        env["SMARTMAIL_IMAP"] = url

    return apply


BROKEN: dict[str, tuple[Break, str, str]] = {
    "settings": (_set(SMARTMAIL_LISTEN="127.0.0.1:x"), "error", "settings: SMARTMAIL_LISTEN="),
    "relay away": (
        _set(SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{free_port()}"),
        "error",
        "Connection refused; check SMARTMAIL_OUTBOUND",
    ),
    "relay without STARTTLS": (
        _set(SMARTMAIL_OUTBOUND_TLS="verify"),
        "error",
        "offers no STARTTLS, and SMARTMAIL_OUTBOUND_TLS=verify requires TLS",
    ),
    "relay without AUTH": (
        lambda env, _: env.update(
            SMARTMAIL_OUTBOUND=env["SMARTMAIL_OUTBOUND"].replace("//", "//u:p@"),
            SMARTMAIL_OUTBOUND_TLS="none",
        ),
        "error",
        "AUTH extension not supported",
    ),
    "imap password": (_imap(test_password="wrong"), "error", "imap: imap://desk"),
    "imap folder": (_imap(INBOX="Nosuch"), "error", "no folder 'Nosuch' to read"),
    "imap address": (
        _imap(felanmalan="okand"),
        "error",
        "stands for okand@bostad.example, which the rules do not name",
    ),
    "database": (
        lambda env, _: env.update(
            SMARTMAIL_DATABASE_URL=env["SMARTMAIL_DATABASE_URL"].rsplit("/", 1)[0] + "/nosuch"
        ),
        "error",
        'database "nosuch" does not exist',
    ),
    "secret": (_secret_readable_by_all, "error", "secret is world-readable: chmod 600"),
    "secret in .env": (_secret_in_a_readable_env_file, "error", ".env is world-readable"),
    "short secret": (_set(SMARTMAIL_SECRET="kort"), "warning", "SMARTMAIL_SECRET is short"),
    "rules": (_rules("answers_per_hour: many\n"), "error", "rules.yaml:"),
    "template": (_broken_template, "error", "ack.txt:3: "),
    "port": (
        lambda env, _: env.update(SMARTMAIL_LISTEN=env["SMARTMAIL_OUTBOUND"][7:]),
        "error",
        "is in use by another program (220 ",
    ),
    "address": (
        _set(SMARTMAIL_ADDRESS="annan@bostad.example"),
        "warning",
        "SMARTMAIL_ADDRESS=annan@bostad.example is not among the rules' addresses",
    ),
}


@pytest.mark.parametrize("broken", list(BROKEN))
def test_one_broken_setting_is_one_finding(
    good: dict[str, str], tmp_path: Path, broken: str
) -> None:
    apply, level, says = BROKEN[broken]
    apply(good, tmp_path)
    code, lines = doctor(good, tmp_path)
    bad = [line for line in lines[:-1] if not line.startswith("ok ")]
    assert len(bad) == 1, lines
    assert bad[0].startswith(level), bad
    assert says in bad[0]
    assert code == (EX_CONFIG if level == "error" else 0)


def test_a_port_held_by_our_daemon_is_ok(good: dict[str, str], tmp_path: Path) -> None:
    daemon = start_daemon(good, tmp_path, wait_for=": idling")
    try:
        code, lines = doctor(good, tmp_path)
    finally:
        daemon.stop()
    assert code == 0, lines
    assert "(SMARTMAIL_LISTEN) is held by a running smartmail" in "\n".join(lines)


def test_an_empty_database_is_a_warning(
    good: dict[str, str],
    tmp_path: Path,
    postgres_server: Postgres,  # noqa: F811
) -> None:
    good["SMARTMAIL_DATABASE_URL"] = postgres_server.create_database()
    code, lines = doctor(good, tmp_path)
    assert code == 0
    assert any(
        line.startswith("warning database:") and "holds no schema revision" in line
        for line in lines
    )


def test_nothing_here_is_an_error_saying_where_it_looked(tmp_path: Path) -> None:
    env = {k: v for k, v in daemon_env(tmp_path, tmp_path).items() if not k.startswith("SMART")}
    code, lines = doctor(env, tmp_path)
    assert code == EX_CONFIG
    assert lines[0].startswith(f"error   settings: no data dir at {tmp_path / 'data'}")
