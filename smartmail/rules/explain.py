"""`smartmail rules explain`: what the rules would do with one mail, and why. Stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from smartmail.desk import sla
from smartmail.mail.guard import GuardInput, run_guard
from smartmail.mail.parse import ParsedMail
from smartmail.rules.model import Rules, format_duration
from smartmail.rules.on_call import explain_on_call, pages

OwnerPicker = Callable[[str], tuple[str | None, str]]


def explain(
    rules: Rules, mail: ParsedMail, now: datetime, pick_owner: OwnerPicker, to: str | None
) -> list[str]:
    route = rules.route(mail, to)
    priority = rules.priority(route.priority)
    owner, team = pick_owner(route.recipient)
    respond_due, resolve_due = sla.deadlines(now, priority, rules.calendar)
    guard = run_guard(GuardInput(mail, None, frozenset(rules.addresses)))

    def local(moment: datetime | None) -> str:
        if moment is None:
            return "-"
        return moment.astimezone(rules.calendar.timezone).strftime("%a %Y-%m-%d %H:%M %Z")

    recipient = f"team {team} ({rules.teams[team].assign})" if team else route.recipient
    lines = [
        f"mail:        {mail.subject!r} from {mail.from_addr or '-'} to {to or ', '.join(mail.to)}",
        f"answered:    {'yes' if guard.may_answer else 'no: ' + ', '.join(guard.hits)}",
        f"route:       {route.category}{' / ' + route.group if route.group else ''}",
        f"because:     {route.reason}",
        f"recipient:   {recipient}",
        f"owner:       {owner or '(nobody: the case waits in #new)'}",
        f"priority:    {priority.name} (clock {priority.clock})",
        f"arrives:     {local(now)}",
        f"respond by:  {local(respond_due)}",
        f"resolve by:  {local(resolve_due)}",
    ]
    if priority.remind_before is not None:
        remind = sla.subtract_duration(
            resolve_due, priority.remind_before, priority.clock, rules.calendar
        )
        lines.append(f"reminder:    {local(remind)} to the owner")
    for step in priority.escalate:
        at = sla.add_duration(resolve_due, step.after, priority.clock, rules.calendar)
        lines.append(f"escalate:    {local(at)} to {step.to} (+{format_duration(step.after)})")
    if route.note:
        lines.append(f"note:        {route.note}")
    if rules.on_call is not None:
        lines.extend(explain_on_call(rules, now))
        paged = None if guard.machine else pages(rules, priority, now)
        lines.append(f"paged:       {paged + ' by SMS, as owner' if paged else 'nobody'}")
    if route.type or route.labels:
        lines.append(f"type:        {route.type or '-'}   labels: {', '.join(route.labels) or '-'}")
    return lines
