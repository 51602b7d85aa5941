"""Statements compiled once per dialect and run on the session's own DBAPI cursor.

For the few statements every mail runs (a lookup, an INSERT of a row written once):
SQLAlchemy's execution path costs several times what SQLite needs to run them. Here a
statement is compiled once, and each run only converts the values by the column types
(the same conversions SQLAlchemy would make) and calls the driver. It runs inside the
session's transaction and savepoints, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, ClauseElement, Connection, Dialect, bindparam
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session

Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class Compiled:
    """One statement as the driver takes it, with what converts values in and out."""

    sql: str
    order: tuple[str, ...] | None  # positional drivers (SQLite): the values' order
    defaults: Mapping[str, Any]  # values the statement itself carries (IN lists, constants)
    binds: Mapping[str, Convert]
    results: tuple[Convert | None, ...]


_CACHE_SIZE = 500
_cache: dict[tuple[type[Dialect], str, ClauseElement, tuple[str, ...] | None], Compiled] = {}


def _compiled(dialect: Dialect, statement: ClauseElement, keys: Sequence[str] | None) -> Compiled:
    """`statement` compiled for `dialect` (INSERTs: for the columns in `keys`), built once."""
    key = (type(dialect), dialect.paramstyle, statement, tuple(keys) if keys else None)
    found = _cache.get(key)
    if found is None:
        if len(_cache) >= _CACHE_SIZE:  # statements are module constants: this is a leak guard
            _cache.clear()
        found = _cache[key] = _compile(dialect, statement, keys)
    return found


def _compile(dialect: Dialect, statement: ClauseElement, keys: Sequence[str] | None) -> Compiled:
    # An IN list is written out: the statement carries its values (no list given per run).
    done = statement.compile(
        dialect=dialect,
        column_keys=list(keys) if keys else None,
        compile_kwargs={"render_postcompile": True},
    )
    assert isinstance(done, SQLCompiler)
    binds = {}
    for name, bind in done.binds.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            # Written out, a list's values go by other names: converted here, they would not be.
            assert not bind.expanding, f"{name}: an IN list of values that need converting"
            binds[name] = convert
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None)
        for column in getattr(statement, "selected_columns", ())
    )
    order = tuple(done.positiontup or ()) if done.positional else None
    given = set(keys or ())  # an INSERT's values come with each run
    defaults = {
        name: value
        for name, value in done.params.items()
        if value is not None and name not in given
    }
    for column in done.insert_prefetch:  # columns left out of an INSERT get their default
        default = column.default
        assert default is not None, f"{column}: has a default"
        assert default.is_scalar, f"{column}: a plain value as its default"
        defaults[column.key] = default.arg  # type: ignore[attr-defined]
    return Compiled(done.string, order, defaults, binds, results)


def change(session: Session, statement: ClauseElement, **values: Any) -> int:
    """Run an UPDATE or DELETE; gives how many rows it changed."""
    with _executed(session, statement, values) as (cursor, _plan):
        return int(cursor.rowcount)


def insert(session: Session, statement: ClauseElement, values: Mapping[str, Any]) -> Any:
    """Run an INSERT of a row the ORM does not hold, compiled for exactly the columns in
    `values` (it needs no flush). Gives the new row's key: the one RETURNING names, else
    the driver's last row id, if it has one."""
    with _executed(session, statement, values, insert=True) as (cursor, _plan):
        if cursor.description is None:  # no RETURNING: SQLite's cursor knows the row id
            return getattr(cursor, "lastrowid", None)
        row = cursor.fetchone()
        return None if row is None else row[0]


def rows(session: Session, statement: ClauseElement, **values: Any) -> list[tuple[Any, ...]]:
    """Every row of a SELECT, its values converted as the ORM would give them."""
    with _executed(session, statement, values) as (cursor, plan):
        return [_converted(plan, row) for row in cursor.fetchall()]


def first(session: Session, statement: ClauseElement, **values: Any) -> Any:
    """The first column of the first row of a SELECT, or None when there is no row."""
    with _executed(session, statement, values) as (cursor, plan):
        row = cursor.fetchone()
        return None if row is None else _converted(plan, row)[0]


@contextmanager
def _executed(
    session: Session, statement: ClauseElement, values: Mapping[str, Any], *, insert: bool = False
) -> Iterator[tuple[Any, Compiled]]:
    """`statement` run with `values` in the session's transaction: the DBAPI cursor and the
    statement as compiled. The cursor is always closed after, and nothing outside this
    module gets one: an UPDATE's cursor left open once stalled other writers on SQLite.

    A query first writes what the session holds pending, as a query through the ORM does
    (unless autoflush is off); an INSERT does not.
    """
    if session.autoflush and not insert:
        session.flush()
    connection = session.connection()
    plan = _compiled(connection.dialect, statement, list(values) if insert else None)
    params = {**plan.defaults, **values} if plan.defaults else dict(values)
    for name, convert in plan.binds.items():
        if name in params:
            params[name] = convert(params[name])
    driver_params: Any = params
    if plan.order is not None:
        driver_params = tuple(params[name] for name in plan.order)
    with _cursor(connection, plan.sql, driver_params) as cursor:
        yield cursor, plan


def run_plain(connection: Connection, sql: str) -> None:
    """`sql`, without parameters or rows (say BEGIN IMMEDIATE), on the driver's connection."""
    with _cursor(connection, sql, ()):
        pass


@contextmanager
def _cursor(connection: Connection, sql: str, params: Any) -> Iterator[Any]:
    """The driver's cursor that ran `sql`; closed when the block ends."""
    driver = connection.connection.dbapi_connection
    assert driver is not None, "a connection in a transaction has its driver connection"
    cursor = driver.cursor()
    try:
        _run(connection, cursor, sql, params)
        yield cursor
    finally:
        cursor.close()


def _run(connection: Connection, cursor: Any, sql: str, params: Any) -> None:
    dialect = connection.dialect
    try:
        cursor.execute(sql, params)
    except dialect.loaded_dbapi.Error as exc:
        # Raised as SQLAlchemy would raise it: callers tell a duplicate (IntegrityError) and
        # a lost database (OperationalError, an invalidated connection) apart by it.
        gone = dialect.is_disconnect(exc, connection.connection.dbapi_connection, cursor)
        if gone:
            connection.invalidate(exc)
        error = DBAPIError.instance(
            sql, params, exc, dialect.loaded_dbapi.Error, gone, dialect=dialect
        )
        raise error from exc


def _converted(plan: Compiled, row: Sequence[Any]) -> tuple[Any, ...]:
    if not any(plan.results):
        return tuple(row)
    return tuple(
        value if convert is None else convert(value)
        for convert, value in zip(plan.results, row, strict=True)
    )


# An IN list whose length varies (References, a batch of rows) is written with one bind per
# value, for a length rounded up to a power of two and padded with the last value: a
# handful of statements, each compiled once, serve every length.


def list_size(count: int) -> int:
    """How many binds a statement for `count` values (at least one) has."""
    return 1 << (count - 1).bit_length()


def list_binds(name: str, size: int) -> list[BindParameter[Any]]:
    return [bindparam(f"{name}{index}") for index in range(size)]


def list_values(name: str, values: Sequence[Any]) -> dict[str, Any]:
    """The values for `list_binds(name, list_size(len(values)))`."""
    padded = [*values, *[values[-1]] * (list_size(len(values)) - len(values))]
    return {f"{name}{index}": value for index, value in enumerate(padded)}
