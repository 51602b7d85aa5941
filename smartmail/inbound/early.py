"""Listening before the pipeline is loaded: `smartmail run` greets within a fraction of a second.

Loading the pipeline (SQLAlchemy, the models, the rules, the templates) takes most of a
second of CPU, and a client connecting meanwhile found the port closed. Here the SMTP and
LMTP ports are bound first and each connection is greeted at once; a `LateHandler` stands
for the real one: EHLO and MAIL are answered at once, RCPT and DATA wait until the
pipeline is there (and get 451 if it could not be loaded, the mail comes again). The
daemon then takes the listeners over (`adopt`) instead of binding its own.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from smartmail.config import HostPort, Settings
from smartmail.errors import ConfigError
from smartmail.inbound.smtp import make_server_factory

NOT_STARTED = "451 4.3.0 The helpdesk could not start, please try again later"


async def bind(factory: Any, where: HostPort, channel: str) -> asyncio.Server:
    """A listening server; a port in use is a setting to change, not a crash."""
    try:
        return await asyncio.get_running_loop().create_server(factory, where.host, where.port)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(f"{channel.upper()} cannot listen on {where}: {reason}") from exc


class LateHandler:
    """Stands for the channel's handler until it exists (aiosmtpd looks for the same hooks)."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self._handler: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def become(self, handler: Any, hostname: str) -> None:
        self.hostname = hostname  # for the connections from now on
        if not self._handler.done():
            self._handler.set_result(handler)

    def fail(self) -> None:
        if not self._handler.done():
            self._handler.set_result(None)

    async def handle_RCPT(self, *args: Any) -> Any:
        handler = await self._handler
        return NOT_STARTED if handler is None else await handler.handle_RCPT(*args)

    async def handle_DATA(self, *args: Any) -> Any:
        handler = await self._handler
        return NOT_STARTED if handler is None else await handler.handle_DATA(*args)


class EarlyListeners:
    """The SMTP and LMTP listeners of `settings`, bound before anything else is loaded."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.servers: dict[str, tuple[asyncio.Server, LateHandler]] = {}

    async def bind(self) -> None:
        """Raises ConfigError (one line: which port, why) when a port cannot be had."""
        # The rules may name the function address, and the rules are not loaded yet.
        domain = (self.settings.address or "").rpartition("@")[2] or "localhost"
        for channel, where in (
            ("smtp", self.settings.listen),
            ("lmtp", self.settings.lmtp_listen),
        ):
            if where is None:
                continue
            late = LateHandler(domain)
            factory = make_server_factory(
                late,
                lmtp=channel == "lmtp",
                hostname=lambda late=late: late.hostname,  # type: ignore[misc]
                max_size=self.settings.max_message_size,
            )
            self.servers[channel] = (await bind(factory, where, channel), late)

    def adopt(self, channel: str, handler: Any, hostname: str) -> asyncio.Server | None:
        """The channel's listener with `handler` at work in it; None if none was bound."""
        if channel not in self.servers:
            return None
        server, late = self.servers[channel]
        late.become(handler, hostname)
        return server

    async def close(self) -> None:
        """The ports closed; a client still waiting (no daemon took it over, loading
        failed) gets 451 and sends its mail again later."""
        for server, late in self.servers.values():
            late.fail()
            server.close()
        for server, _late in self.servers.values():
            await server.wait_closed()
