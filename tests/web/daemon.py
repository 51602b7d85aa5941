"""A real daemon with the fault-report page on, and the sink as its relay."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import Sink, free_port
from tests.e2e.daemon import RunningDaemon, daemon_env, start_daemon
from tests.web.conftest import WEB_RULES


@contextmanager
def web_daemon(
    tmp_path: Path, sink: Sink, rules: str = WEB_RULES, **settings: str
) -> Iterator[RunningDaemon]:
    """`smartmail run` with SMARTMAIL_WEB_LISTEN on a free port, its URL the page's address."""
    rules_path = tmp_path / "web-rules.yaml"
    rules_path.write_text(rules, encoding="utf-8")
    port = free_port()
    env = daemon_env(
        tmp_path / "data",
        rules_path,
        SMARTMAIL_OUTBOUND=f"smtp://127.0.0.1:{sink.port}",
        SMARTMAIL_WEB_LISTEN=f"127.0.0.1:{port}",
        SMARTMAIL_WEB_URL=f"http://127.0.0.1:{port}",
        **settings,
    )
    running = start_daemon(env, tmp_path, wait_for="WEB listening on")
    try:
        yield running
    finally:
        running.stop()


def web_url(daemon: RunningDaemon) -> str:
    return daemon.env["SMARTMAIL_WEB_URL"]


def follow_link(sink: Sink, to: str) -> str:
    """The link in the acknowledgement `to` got."""
    [ack] = sink.wait_to(to, 1, subject="tagit emot")
    found = re.search(
        r"http://127\.0\.0\.1:\d+/case/[0-9a-z-]+", ack.get_body(("plain",)).get_content()
    )
    assert found, ack
    return found.group(0)
