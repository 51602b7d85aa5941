"""Telling systemd how the daemon is doing (sd_notify): one datagram to $NOTIFY_SOCKET each.

The protocol is a few `KEY=value` lines in a datagram to a Unix socket (an abstract one when
the path starts with `@`); no libsystemd needed. Outside systemd there is no socket, and every
call does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime
from datetime import time as day_start
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func
from sqlmodel import col, select

from smartmail.store.db import transaction
from smartmail.store.models import Case, Outbox

log = logging.getLogger(__name__)

STATE_WAIT_SECONDS = 2.0


class Notifier:
    """sd_notify for one process; `address` is $NOTIFY_SOCKET, None outside systemd."""

    def __init__(self, address: str | None, watchdog_usec: int = 0) -> None:
        self.address = address
        self.watchdog_seconds = watchdog_usec / 1_000_000 if address else 0.0
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def ready(self) -> None:
        self.send("READY=1", wait=STATE_WAIT_SECONDS)

    def reloading(self) -> None:
        # systemd 253+ wants the monotonic time with RELOADING=1, to tell this reload apart.
        now = f"MONOTONIC_USEC={time.monotonic_ns() // 1000}"
        self.send("RELOADING=1", now, wait=STATE_WAIT_SECONDS)

    def stopping(self) -> None:
        self.send("STOPPING=1", wait=STATE_WAIT_SECONDS)

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.send("STATUS=" + " ".join(text.split()))  # one line: a line end starts a field

    def send(self, *fields: str, wait: float = 0.0) -> None:
        """One datagram. This runs in the event loop: a reader that is behind (systemd busy)
        may hold up a change of state for `wait` seconds, and a ping or status not at all."""
        if self.address is None:
            return
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.settimeout(wait)  # 0: never wait
                sock.connect(target)
                sock.send("\n".join(fields).encode())
        except (BlockingIOError, TimeoutError):
            log.debug("systemd at %s is behind; dropped %s", self.address, fields[0])
        except OSError as exc:
            if not self._warned:  # systemd gone or the socket wrong: say so once, run on
                log.warning("cannot tell systemd at %s: %s", self.address, exc)
                self._warned = True


def desk_status(engine: Engine, now: datetime, timezone: ZoneInfo) -> str:
    """What `systemctl status` shows: the cases opened today (local day) and the queue."""
    midnight = datetime.combine(now.astimezone(timezone).date(), day_start(), timezone)
    with transaction(engine) as session:
        today = session.exec(select(func.count()).where(col(Case.created_at) >= midnight)).one()
        queued = session.exec(select(func.count()).where(col(Outbox.status) == "queued")).one()
    return f"{today} cases today, {queued} mails in the outbox queue"


STATUS_SECONDS = 30.0


def keep_systemd_told(
    notifier: Notifier,
    stopping: asyncio.Event,
    executor: Executor,
    describe: Callable[[], str],
) -> list[asyncio.Task[None]]:
    """The tasks that tell systemd we live and what we do, until `stopping` is set."""
    if not notifier.enabled:
        return []
    return [
        asyncio.create_task(_watchdog_forever(notifier, stopping)),
        asyncio.create_task(_status_forever(notifier, stopping, executor, describe)),
    ]


async def _watchdog_forever(notifier: Notifier, stopping: asyncio.Event) -> None:
    """WATCHDOG=1 at half systemd's interval, from the event loop itself: a loop that is
    stuck stops saying it, and systemd restarts the daemon."""
    if not notifier.watchdog_seconds:
        return
    while not stopping.is_set():
        notifier.watchdog()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), notifier.watchdog_seconds / 2)


async def _status_forever(
    notifier: Notifier, stopping: asyncio.Event, executor: Executor, describe: Callable[[], str]
) -> None:
    loop = asyncio.get_running_loop()
    while not stopping.is_set():
        try:
            notifier.status(await loop.run_in_executor(executor, describe))
        except Exception as exc:  # the database away for a moment: say so, try again
            notifier.status(f"cannot count cases now: {exc}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), STATUS_SECONDS)
