"""Engine and sessions: SQLite with WAL on the embedded default, PostgreSQL for several daemons."""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Insert, Select, bindparam, event, insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import ClassManager, Mapper, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, create_engine

from smartmail.errors import TemporaryFailure
from smartmail.store import (
    models,  # noqa: F401  (models registers the tables)
    prepared,
    schema,
)

_Model = TypeVar("_Model", bound=SQLModel)


def make_engine(url: str) -> Engine:
    """An engine on a database at the newest schema revision; SQLite gets WAL and
    writer-first transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _tune_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10)
    schema.migrate(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    _WRITER_TURNS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); pysqlite's own deferred BEGIN would let two
        # writers both read, then fail to upgrade their lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _use_wal(cursor)
        # FULL: a mail acknowledged with 250 must survive a power cut, not only a crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # on the driver: SQLAlchemy's execution path costs more than the BEGIN itself
        options = connection.get_execution_options()
        _sync_for(connection, "NORMAL" if options.get(_UNFLUSHED, False) else "FULL")
        reads_only = options.get(_READING, False)
        prepared.run_plain(connection, "BEGIN" if reads_only else "BEGIN IMMEDIATE")


def _sync_for(connection: Connection, level: str) -> None:
    """PRAGMA synchronous is the connection's, and a pooled connection serves the next
    transaction too: set it only when it changes (outside a transaction, as it must be)."""
    info = connection.connection.info
    if info.get(_SYNCHRONOUS, "FULL") != level:
        prepared.run_plain(connection, f"PRAGMA synchronous={level}")
        info[_SYNCHRONOUS] = level


_SYNCHRONOUS = "smartmail_synchronous"


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """WAL is kept in the file, so only a new database changes mode. That change takes
    the whole file and SQLite does not wait for it: another process making the same new
    database at that moment (the first mails of an install, piped at once) makes it fail
    at once. The other is done within milliseconds; try again meanwhile."""
    deadline = time.monotonic() + _WAL_WAIT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


_WAL_WAIT_SECONDS = 30  # as long as a writer waits for the lock (busy_timeout)


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session that only reads, on one snapshot of the database.

    On SQLite it takes no write lock (a plain BEGIN: WAL lets it read while a writer
    writes), where every other transaction begins IMMEDIATE. A read held the lock for as
    long as it ran: the sender's look for due mail, a sweep's, the weekly report's
    figures, and a mail's commit waited behind them in SQLite's busy loop. Writing in it
    fails on SQLite with "database is locked" once another writer holds the lock: use
    `transaction` for that.
    """
    with Session(_with_option(engine, _READING)) as session:
        yield session


_READING = "smartmail_reading"


@contextmanager
def transaction(engine: Engine, *, flushed: bool = True) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    A database that cannot be reached or is locked is a temporary failure: the caller
    answers 451 / exit 75 and the mail comes again.

    `flushed=False` (SQLite) commits without waiting for the disk (synchronous=NORMAL in
    WAL): a crash of the process loses nothing, as SQLite has handed the commit to the
    kernel; a power cut can lose it until the next flushed commit, which flushes it too.
    Only for what may be lost that way: the sender's mark that a mail went out (a power
    cut sends that mail once more). A flushed commit costs a disk flush, during which
    SQLite's write lock is held and intake waits.
    """
    bind = engine if flushed else _with_option(engine, _UNFLUSHED)
    try:
        with (
            _writer_turn(engine),
            Session(bind, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session
    except DBAPIError as exc:
        if lost(exc):
            raise TemporaryFailure(f"database unavailable: {exc.orig}") from exc
        raise


_UNFLUSHED = "smartmail_unflushed"


def _with_option(engine: Engine, option: str) -> Engine:
    """`engine` with `option` set, made once per engine: made anew each time, it cost more
    than the sender's own query. Kept on the engine itself (it refers to the engine, so a
    weak mapping from the engine would keep both for good)."""
    options: dict[str, Engine] = engine.__dict__.setdefault("_smartmail_option_engines", {})
    found = options.get(option)
    if found is None:
        found = options[option] = engine.execution_options(**{option: True})
    return found


def _writer_turn(engine: Engine) -> AbstractContextManager[Any]:
    """SQLite's turn to write, taken in this process first. A writer blocked inside SQLite
    sleeps up to 100 ms between tries; one waiting here is woken as soon as the other's
    transaction ends. Reentrant: a nested transaction waits on SQLite (and fails) as it
    did before, instead of hanging here."""
    return _WRITER_TURNS.get(engine) or contextlib.nullcontext()


_WRITER_TURNS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A savepoint. When it rolls back, the session forgets all its objects: one written by
    `add_written` inside it would stay in the session though its row is gone."""
    try:
        with session.begin_nested():
            yield
    except BaseException:
        session.expunge_all()
        raise


def lost(exc: DBAPIError) -> bool:
    """Does this error end the whole transaction (database away, locked, connection gone)?"""
    return isinstance(exc, OperationalError) or exc.connection_invalidated


def insert_once(session: Session, table: type[SQLModel], **values: Any) -> None:
    """INSERT the row unless one with the same key is there (the same bytes kept twice)."""
    dialect = session.connection().dialect.name
    prepared.insert(session, _insert_once(dialect, table), values)


@functools.cache
def _insert_once(dialect: str, table: type[SQLModel]) -> Any:
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    return insert(table).on_conflict_do_nothing()


def insert_row(session: Session, table: type[SQLModel], values: dict[str, Any]) -> Any:
    """INSERT one row, run as a prepared statement; gives its new primary key.

    For rows written once and never changed by the code that writes them (messages, events,
    outbox rows, ...): the ORM's unit of work, even SQLAlchemy's execution path, costs
    several times the INSERT itself. The row is in the transaction at once, for queries
    and for a savepoint's rollback alike.
    """
    returning = session.connection().dialect.name != "sqlite"  # SQLite has the cursor's rowid
    return prepared.insert(session, _insert(table, returning), values)


def insert_object(session: Session, row: SQLModel) -> None:
    """Write `row` as `insert_row` does and give it its new id; it stays out of the session."""
    table = type(row)
    values = {key: getattr(row, key) for key in _column_keys(table)}
    row.id = insert_row(session, table, values)


def add_written(session: Session, row: SQLModel) -> None:
    """Write the new `row` at once, as `insert_object` does, and put it in the session as
    loaded: it has its id, a query finds it, and later changes to it are flushed as usual.

    Cheaper than the ORM's flush of a new object. A savepoint's rollback does not take it
    out of the session: after one, the session must forget its objects (`expunge_all`).
    """
    insert_object(session, row)
    make_transient_to_detached(row)
    session.add(row)


def load(session: Session, model: type[_Model], **key: Any) -> _Model | None:
    """The `model` row with this one unique column's value, as the session's object.

    What `session.get` and an ORM query give, at the cost of a prepared SELECT: the object
    the session holds already, else one built from the row and added to the session as
    loaded (its relationships load when first used). A query first writes what the session
    holds pending, unless autoflush is off.
    """
    ((column, value),) = key.items()
    mapper = inspect(model)
    if column == mapper.primary_key[0].key:
        mine = session.identity_map.get(identity_key(model, value))
        if mine is not None:
            return mine
    found = prepared.rows(session, _select_by(model, column), value=value)
    if not found:
        return None
    row = _built(model, dict(zip(_attribute_keys(model), found[0], strict=True)))
    held = session.identity_map.get(mapper.identity_key_from_instance(row))
    if held is not None:
        return cast(_Model, held)
    make_transient_to_detached(row)
    session.add(row)
    return row


def new_row(model: type[_Model], **values: Any) -> _Model:
    """`model(**values)`, for the rows every mail writes: the columns not given get their
    defaults, and no relationship can be given. A tenth of the cost: SQLModel's `__init__`
    sets each field through its attribute events, one by one."""
    defaults, factories = _defaults(model)
    for name, make in factories.items():
        if name not in values:
            values[name] = make()
    return _built(model, {**defaults, **values})


@functools.cache
def _defaults(model: type[SQLModel]) -> tuple[dict[str, Any], dict[str, Callable[[], Any]]]:
    """Each field's default value, or what makes it (a fresh one each time)."""
    defaults, factories = {}, {}
    for name, field in model.model_fields.items():
        if field.default_factory is not None:
            factories[name] = cast(Callable[[], Any], field.default_factory)
        elif not field.is_required():
            hash(field.default)  # shared by every row: only plain values, nothing mutable
            defaults[name] = field.default
    return defaults, factories


def _built(model: type[_Model], values: dict[str, Any]) -> _Model:
    """An object of `model` holding `values` (one per column) as the ORM builds one it
    loads: its state made as SQLModel expects, the values put in place as they are."""
    row = _class_manager(model).new_instance()
    row.__dict__.update(values)
    return cast(_Model, row)


@functools.cache
def _class_manager(model: type[SQLModel]) -> ClassManager[Any]:
    configure_mappers()  # what the first `model(...)` would do: attributes need their mapper
    mapper: Mapper[Any] = inspect(model)
    return mapper.class_manager


@functools.cache
def _select_by(model: type[SQLModel], column: str) -> Select[Any]:
    table = inspect(model).local_table
    return select(*table.columns).where(table.columns[column] == bindparam("value"))


@functools.cache
def _attribute_keys(model: type[SQLModel]) -> tuple[str, ...]:
    """The attribute of each column of `model`'s table, in the table's order."""
    mapper = inspect(model)
    return tuple(mapper.get_property_by_column(column).key for column in mapper.local_table.columns)


@functools.cache
def _insert(table: type[SQLModel], returning: bool) -> Insert:
    statement = insert(table)
    return statement.returning(inspect(table).primary_key[0]) if returning else statement


@functools.cache
def _column_keys(table: type[SQLModel]) -> tuple[str, ...]:
    """Every column but the generated id."""
    return tuple(attr.key for attr in inspect(table).column_attrs if attr.key != "id")
