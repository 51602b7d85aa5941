"""A private Dovecot IMAP server on a free loopback port, for tests that read a real mailbox.

It runs from its own config with its own base, state and mail dirs, so nothing in /etc and no
packaged service is touched. Any user name logs in with PASSWORD and gets an empty mailbox,
so each test uses a fresh user.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.conftest import free_port

PASSWORD = "test-password"
MAIL_UID = 8  # Debian's `mail` user: Dovecot refuses to store mail as root (first_valid_uid).

CONFIG = """\
instance_name = {instance}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{dir}/mail/%u
mail_uid = {uid}
mail_gid = {uid}
first_valid_uid = {uid}
first_valid_gid = {uid}
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class Dovecot:
    dir: Path
    port: int
    instance: str
    master: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.dir / "dovecot.conf"

    def url(self, user: str, folder: str = "INBOX", address: str = "") -> str:
        query = f"?address={address}" if address else ""
        return f"imap://{user}:{PASSWORD}@127.0.0.1:{self.port}/{folder}{query}"

    def start(self) -> None:
        # In the foreground (-F), so the master is our child: no pid file, no stray daemon.
        self.master = subprocess.Popen(
            ["dovecot", "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_serving()

    def stop(self) -> None:
        """Stop the master and every process of this instance, as a real server stop does."""
        if self.master is None:
            return
        self.master.terminate()
        try:
            self.master.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.master.kill()
            self.master.wait()
        self.master = None
        # The master leaves imap processes serving their open connections; end them too.
        leftover = self._processes()
        for pid in leftover:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 10
        while self._processes() and time.monotonic() < end:
            time.sleep(0.02)

    def _processes(self) -> list[int]:
        """Pids of this instance's processes, found by their title `dovecot-INSTANCE/...`."""
        title = f"dovecot-{self.instance}/".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if (entry / "cmdline").read_bytes().startswith(title):
                        pids.append(int(entry.name))
        return pids

    def doveadm(self, *args: str) -> None:
        subprocess.run(["doveadm", "-c", str(self.config), *args], check=True, capture_output=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    @contextmanager
    def client(self, user: str) -> Iterator[IMAPClient]:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        try:
            client.login(user, PASSWORD)
            yield client
        finally:
            try:
                client.logout()
            except Exception:
                client.shutdown()

    def append(self, user: str, *mails: EmailMessage | bytes, folder: str = "INBOX") -> None:
        with self.client(user) as client:
            for mail in mails:
                raw = mail if isinstance(mail, bytes) else mail.as_bytes()
                client.append(folder, raw)

    def count(self, user: str, folder: str) -> int:
        """Mails in a folder, 0 when it does not exist yet."""
        with self.client(user) as client:
            if not client.folder_exists(folder):
                return 0
            return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])

    def message_ids(self, user: str, folder: str) -> list[str]:
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return []
            fetched = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            return [
                data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().partition(":")[2].strip()
                for data in fetched.values()
            ]

    def raw_mails(self, user: str, folder: str) -> list[bytes]:
        """The mails as a reader fetches them (CRLF line ends), oldest first."""
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search("ALL"))
            fetched = client.fetch(uids, [b"BODY.PEEK[]"]) if uids else {}
            return [fetched[uid][b"BODY[]"] for uid in uids]

    def flags(self, user: str, folder: str) -> list[tuple[bytes, ...]]:
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return []
            return [data[b"FLAGS"] for data in client.fetch(uids, [b"FLAGS"]).values()]

    def _wait_until_serving(self) -> None:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            if self.master is not None and self.master.poll() is not None:
                break
            time.sleep(0.02)
        log = self.dir / "dovecot.log"
        text = log.read_text() if log.exists() else "(no log)"
        raise AssertionError(f"dovecot did not start on port {self.port}:\n{text}")


def why_not_runnable() -> str | None:
    """The reason these tests cannot run here, or None."""
    if shutil.which("dovecot") is None:
        return "dovecot not found: apt-get install dovecot-imapd dovecot-lmtpd"
    if os.geteuid() != 0:
        return "the private dovecot stores mail as the `mail` user, which needs root"
    return None


@contextmanager
def running_dovecot() -> Iterator[Dovecot]:
    reason = why_not_runnable()
    if reason:
        pytest.skip(reason)
    # Directly under /tmp and world-executable: the `mail` user must reach the maildirs, and
    # Dovecot's unix sockets must fit in 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))
    path.chmod(0o755)
    (path / "mail").mkdir()
    os.chown(path / "mail", MAIL_UID, MAIL_UID)
    dovecot = Dovecot(path, free_port(), f"smartmail-test-{secrets.token_hex(4)}")
    dovecot.config.write_text(
        CONFIG.format(
            instance=dovecot.instance,
            dir=path,
            uid=MAIL_UID,
            password=PASSWORD,
            port=dovecot.port,
        )
    )
    try:
        dovecot.start()
        yield dovecot
    finally:
        dovecot.stop()
        shutil.rmtree(path, ignore_errors=True)
