"""How `smartmail run` starts: the ports first, everything else after.

Only the settings and the listeners' protocol are loaded before the SMTP and LMTP ports
are bound and greet (inbound/early.py); the command, the app and the daemon are loaded in
a thread meanwhile, and the daemon takes the listeners over. A client connecting during
a start is greeted at once and waits at RCPT for the rest. What goes wrong on the way
says so in one line with the exit code it always had: a wrong setting or a port in use
78 before anything is loaded, wrong rules 78, a database that cannot be reached 75.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
from typing import TYPE_CHECKING

from smartmail.config import Settings, load_settings, start_logging
from smartmail.errors import ConfigError
from smartmail.inbound.early import EarlyListeners

if TYPE_CHECKING:
    from smartmail.app import App

EX_OK = 0
EX_CONFIG = 78


def run() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"smartmail: {exc}", file=sys.stderr)
        return EX_CONFIG
    start_logging(settings)
    return asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> int:
    early = EarlyListeners(settings)
    held = _held_signals()  # until the daemon's own handlers take over
    try:
        await early.bind()
    except ConfigError as exc:
        print(f"smartmail: cannot start: {exc}", file=sys.stderr)
        await early.close()
        return EX_CONFIG
    app = await asyncio.get_running_loop().run_in_executor(None, _load, settings)
    if isinstance(app, int):
        await early.close()
        return app
    try:
        if held & {signal.SIGTERM, signal.SIGINT}:  # told to stop while it loaded
            return EX_OK
        from smartmail.cli import serve

        return await serve(app, early)
    finally:
        await early.close()  # if the daemon stopped before it took them over
        app.engine.dispose()


def _held_signals() -> set[int]:
    """Signals that come while the rest loads: SIGTERM or SIGINT stops the start once it
    has loaded, instead of killing it half-way; a SIGHUP (reload the rules) is taken as
    done, as the rules are read during the load and the daemon watches the file after."""
    held: set[int] = set()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, held.add, sig)
    return held


def _load(settings: Settings) -> App | int:
    # Loading makes hundreds of thousands of objects that live as long as the process:
    # the collector's passes over them meanwhile took a tenth of the start (entry.py).
    gc.disable()
    try:
        from smartmail.cli import opened
    finally:
        gc.freeze()
        gc.enable()
    return opened(settings)
