"""The stand-in handler of a starting daemon answers the hooks the real one answers."""

from __future__ import annotations

from smartmail.inbound.early import LateHandler
from smartmail.inbound.smtp import MailHandler


def hooks(kind: type) -> set[str]:
    return {name for name in dir(kind) if name.startswith("handle_")}


def test_the_stand_in_passes_on_every_hook_of_the_handler() -> None:
    # aiosmtpd calls the hooks it finds on the handler a connection began with: one the
    # stand-in lacks would be skipped for every connection made during a start.
    assert hooks(LateHandler) == hooks(MailHandler)
