"""Finding cases: words in their mail (the full-text index) and filters. Read-only.

`find` gives the newest matching cases and how many match in all; `answer_lines` is the
`#search` answer, one line per case (number, status, owner, customer, subject, age).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from smartmail.desk.search_filters import BadFilter, Filters, Moment
from smartmail.mail.phrases import N_, Phrase, phrase, status
from smartmail.rules.model import Rules
from smartmail.store import search
from smartmail.store.models import CLOSED_STATUSES, OPEN_STATUSES, Case, CaseLabel, Party

ANSWER_LIMIT = 50  # cases in a #search answer


@dataclass(frozen=True)
class Found:
    cases: list[Case]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.cases)


def resolve_owners(filters: Filters, rules: Rules, me: str | None) -> tuple[str | None, ...]:
    """The owners asked for, as addresses (None: no owner); `me` is the one asking, None
    where nobody is (the command line). BadFilter for one nobody in the rules is."""
    found: list[str | None] = []
    for owner in filters.owners:
        if owner == "none":
            found.append(None)
        elif owner == "me":
            if me is None:
                raise BadFilter(phrase(N_("owner:me: say whose address")))
            found.append(me.lower())
        else:
            found.append(_person(rules, owner))
    return tuple(found)


def _person(rules: Rules, owner: str) -> str:
    if "@" in owner:
        return owner
    for person in rules.people:
        name = person.name.casefold()
        if owner in (name, *name.split()[:1]):
            return person.email
    raise BadFilter(phrase(N_("owner: {owner} is nobody in the rules"), owner=owner))


def find(
    session: Session,
    filters: Filters,
    owners: tuple[str | None, ...],
    tz: ZoneInfo,
    limit: int | None = ANSWER_LIMIT,
) -> Found:
    """The cases that hold every word and pass every filter, newest first: at most `limit`
    of them (None: all), and how many there are in all."""
    dialect = session.connection().dialect.name
    if filters.words and replace(filters, words=()).empty and limit:
        return _by_words_alone(session, dialect, filters.words, limit)
    conditions = _conditions(session, filters, owners, tz, dialect)
    query = select(Case).where(*conditions).order_by(col(Case.id).desc())
    if limit is not None:
        query = query.limit(limit)
    cases = list(session.exec(query).all())
    total = len(cases)
    if limit is not None and total == limit:
        counting = select(func.count()).select_from(Case).where(*conditions)
        total = int(session.exec(counting).one())
    return Found(cases, total)


def _by_words_alone(session: Session, dialect: str, words: tuple[str, ...], limit: int) -> Found:
    """Words and no filter: the index alone knows the newest cases and how many there are
    (a case's row is keyed by its number), with no look at each case."""
    terms = search.query_terms(dialect, words)
    if not terms:
        return Found([], 0)
    matching = search.match_sql(dialect)
    newest = session.execute(
        text(f"{matching} ORDER BY case_id DESC LIMIT :limit"), {"word": terms[0], "limit": limit}
    ).scalars()
    numbers = list(newest)
    total = len(numbers)
    if total == limit:
        counting = text(f"SELECT count(*) FROM ({matching}) AS found")  # noqa: S608
        total = int(session.execute(counting, {"word": terms[0]}).scalar_one())
    query = select(Case).where(col(Case.id).in_(numbers)).order_by(col(Case.id).desc())
    return Found(list(session.exec(query).all()), total)


def _conditions(
    session: Session,
    filters: Filters,
    owners: tuple[str | None, ...],
    tz: ZoneInfo,
    dialect: str,
) -> list[ColumnElement[bool]]:
    conditions = _word_conditions(filters.words, dialect)
    if filters.statuses:
        conditions.append(or_(*(_status(value) for value in filters.statuses)))
    for label in filters.labels:
        spelt = _labels_spelt(session, label)
        labelled = select(CaseLabel.case_id).where(col(CaseLabel.label).in_(spelt))
        conditions.append(col(Case.id).in_(labelled))
    if filters.types:
        lowered = [value.lower() for value in filters.types]
        conditions.append(func.lower(col(Case.type)).in_(lowered))
    if owners:
        named = [owner for owner in owners if owner is not None]
        either = [col(Case.assignee).in_(named)] if named else []
        if None in owners:
            either.append(col(Case.assignee).is_(None))
        conditions.append(or_(*either))
    if filters.customers:
        conditions.append(col(Case.customer_id).in_(_customers(filters.customers)))
    if filters.since is not None:
        conditions.append(col(Case.created_at) >= _start(filters.since, tz))
    if filters.until is not None:
        conditions.append(col(Case.created_at) < _end(filters.until, tz))
    return conditions


def _word_conditions(words: tuple[str, ...], dialect: str) -> list[ColumnElement[bool]]:
    """The case holds every word (its stem), in one message or several."""
    terms = search.query_terms(dialect, words)
    if not terms:
        return []
    sql = f'"case".id IN ({search.match_sql(dialect)})'
    return [text(sql).bindparams(word=terms[0])]  # type: ignore[list-item]


def _status(value: str) -> ColumnElement[bool]:
    if value == "open":
        return col(Case.status).in_(OPEN_STATUSES)
    if value == "closed":
        return col(Case.status).in_(CLOSED_STATUSES)
    return col(Case.status) == value


def _labels_spelt(session: Session, label: str) -> list[str]:
    """The labels on cases that are `label` in any case (`Storgatan5`, `storgatan5`)."""
    folded = label.casefold()
    known = session.exec(select(CaseLabel.label).distinct()).all()
    return [spelt for spelt in known if spelt.casefold() == folded] or [label]


def _customers(customers: tuple[str, ...]) -> SelectOfScalar[int]:
    either: list[ColumnElement[bool]] = []
    addresses = [c for c in customers if not c.startswith("@")]
    if addresses:
        either.append(col(Party.email).in_(addresses))
    for domain in (c for c in customers if c.startswith("@")):
        pattern = "%" + domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        either.append(col(Party.email).like(pattern, escape="\\"))
    return select(col(Party.id)).where(or_(*either))  # type: ignore[return-value]


def _start(moment: Moment, tz: ZoneInfo) -> datetime:
    if isinstance(moment, datetime):
        return moment
    return datetime.combine(moment, time(), tzinfo=tz)


def _end(moment: Moment, tz: ZoneInfo) -> datetime:
    if isinstance(moment, datetime):
        return moment
    return datetime.combine(moment + timedelta(days=1), time(), tzinfo=tz)


# --------------------------------------------------------------------------- the answer

_LINE = N_("#{number:<5} {status:<11} {owner:<24} {customer:<26} {age:>5}  {subject}")


def answer_lines(session: Session, found: Found, now: datetime) -> list[Phrase]:
    """One line per case found, and how many more there were."""
    lines = [_line(session, case, now) for case in found.cases]
    if found.more > 0:
        lines.append(
            phrase(N_("... and {more} more: add words or filters to narrow it"), more=found.more)
        )
    return lines


def _line(session: Session, case: Case, now: datetime) -> Phrase:
    customer = session.get(Party, case.customer_id) if case.customer_id else None
    return phrase(
        _LINE,
        number=case.number,
        status=status(case.status),
        owner=case.assignee or "-",
        customer=customer.email if customer else "-",
        age=_age(now - case.created_at),
        subject=" ".join(case.subject.split())[:80],
    )


def _age(age: timedelta) -> str:
    """`3d`, `5h` or `12m`: how long ago, to the largest unit."""
    if age.days > 0:
        return f"{age.days}d"
    if age >= timedelta(hours=1):
        return f"{age.seconds // 3600}h"
    return f"{max(age, timedelta(0)).seconds // 60}m"
