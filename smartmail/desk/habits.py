"""The desk's everyday habits by mail: a case's channel, labels and type, and its watchers.

Each function carries out one command on one case through `cases` and says what changed,
or raises NotDone with why not; `steering` calls them like its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from smartmail.desk import cases
from smartmail.desk.commands import Command, Labels, Tagged
from smartmail.mail.phrases import N_, Phrase, phrase, word
from smartmail.rules.model import Rules
from smartmail.store.models import Case, Message

_ME = ("me", "mig", "jag")


NOT_OPENED = phrase(N_("#customer and #quiet open a case: mail them to your own address"))


def opening(tagged: Tagged) -> tuple[Command, ...]:
    """#customer and #quiet, which only a mail that opens a case carries out."""
    return tuple(c for c in tagged.commands if c.name in ("customer", "quiet"))


class NotDone(Exception):
    """A command that cannot be carried out; the phrase goes back to the sender."""

    def __init__(self, why: Phrase) -> None:
        super().__init__(why.render("en"))
        self.why = why


class Desk(Protocol):
    """What a command needs of the mail that carries it (a `steering.Steering`)."""

    session: Session
    rules: Rules
    message: Message
    now: datetime

    @property
    def actor(self) -> str: ...


def channel(desk: Desk, command: Command, case: Case) -> Phrase:
    cases.set_channel(desk.session, case, str(command.value), desk.actor, desk.now, desk.message)
    return phrase(N_("channel {channel}"), channel=word("channel", case.channel))


def label(desk: Desk, command: Command, case: Case) -> Phrase:
    assert isinstance(command.value, Labels)
    change = command.value
    cases.set_labels(
        desk.session, case, change.add, change.remove, desk.actor, desk.now, desk.message
    )
    labels = cases.labels_of(desk.session, case)
    return phrase(N_("labels: {labels}"), labels=", ".join(labels) or "-")


def kind(desk: Desk, command: Command, case: Case) -> Phrase:
    wanted = str(command.value).strip().casefold()
    names = {name.casefold(): name for name in desk.rules.types}
    if wanted not in names:
        known = ", ".join(desk.rules.types) or "-"
        raise NotDone(phrase(N_("unknown type; the rules have: {names}"), names=known))
    cases.set_type(desk.session, case, names[wanted], desk.actor, desk.now, desk.message)
    return phrase(N_("type {type}"), type=names[wanted])


def watch(desk: Desk, command: Command, case: Case) -> Phrase:
    people = _staff(desk, str(command.value))
    for email in people:
        person = cases.party_for(desk.session, email, _name(desk.rules, email), desk.now)
        cases.watch(desk.session, case, person, desk.actor, desk.now, desk.message)
    return phrase(N_("watched by {people}"), people=", ".join(people))


def unwatch(desk: Desk, command: Command, case: Case) -> Phrase:
    people = _staff(desk, str(command.value))
    for email in people:
        person = cases.party_for(desk.session, email, _name(desk.rules, email), desk.now)
        cases.unwatch(desk.session, case, person, desk.actor, desk.now, desk.message)
    return phrase(N_("no longer watched by {people}"), people=", ".join(people))


def keep_watching(desk: Desk, case: Case, previous_owner: str) -> None:
    """After #assign to someone else the old owner follows the case (until #unwatch)."""
    if desk.rules.role_of(previous_owner) not in ("staff", "manager"):
        return
    name = _name(desk.rules, previous_owner)
    person = cases.party_for(desk.session, previous_owner, name, desk.now)
    cases.watch(desk.session, case, person, desk.actor, desk.now, desk.message)


def _staff(desk: Desk, target: str) -> list[str]:
    """The staff `target` names: me, a person (address or name) or a team's members."""
    wanted = target.strip().casefold()
    if wanted in _ME:
        return [desk.actor]
    team = next((t for n, t in desk.rules.teams.items() if n.casefold() == wanted), None)
    if team is not None:
        return list(team.members)
    person = desk.rules.person(wanted) or next(
        (p for p in desk.rules.people if p.name.casefold() == wanted), None
    )
    if person is None or person.role == "contractor":
        raise NotDone(phrase(N_("{target} is no staff member or team in the rules"), target=target))
    return [person.email]


def _name(rules: Rules, email: str) -> str:
    person = rules.person(email)
    return person.name if person else ""
