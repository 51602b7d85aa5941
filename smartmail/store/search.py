"""The full-text index of case mail: every message a person wrote, by its words' stems.

Words are Swedish stems (Snowball), whole words, any case. On PostgreSQL the index is a
generated `tsvector` column on `message` (the `swedish` text search configuration, the same
Snowball stemmer) with a GIN index: the database keeps it in step with every row itself.
On SQLite it is an FTS5 table keyed by the message's id, holding the stems of its subject
and text; `index_message` writes its row where a message is stored, and triggers drop the
row when the message is deleted or its text changed (it is then no longer found, never
found by words it no longer holds).

Mail that a machine wrote (acknowledgements, notices, bounces) is not indexed: its
boilerplate would make every case match.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]
from sqlalchemy import Connection, text
from sqlmodel import Session

log = logging.getLogger(__name__)

# Only this much of a message is indexed: a tsvector holds at most 1 MB, and a huge mail
# is found by its first pages.
MAX_INDEXED_CHARS = 100_000
# The names of the index's objects, which the models do not describe (tests/store compares).
SQLITE_TABLE = "message_search"  # FTS5 (and its shadow tables message_search_*)
POSTGRES_COLUMN = "search"  # message.search, a generated tsvector
POSTGRES_INDEX = "ix_message_search"
SQLITE_TRIGGERS = ("message_search_deleted", "message_search_changed")
_TRIGGERS = (
    "CREATE TRIGGER message_search_deleted AFTER DELETE ON message BEGIN "
    "DELETE FROM message_search WHERE rowid = old.id; END",
    "CREATE TRIGGER message_search_changed AFTER UPDATE OF subject, text ON message BEGIN "
    "DELETE FROM message_search WHERE rowid = old.id; END",
)
POSTGRES_CONFIG = "swedish"

# What a word is: letters and digits, as FTS5's unicode61 tokenizer splits them.
_WORD = re.compile(r"[^\W_]+")


@functools.cache
def _stemmer() -> Any:
    return snowballstemmer.stemmer("swedish")


def words(value: str) -> list[str]:
    """The words of `value` as they are indexed and searched: NFKC, case folded, stemmed."""
    folded = unicodedata.normalize("NFKC", value[:MAX_INDEXED_CHARS]).casefold()
    found = _WORD.findall(folded)
    return list(_stemmer().stemWords(found)) if found else []


def is_index_object(name: str | None) -> bool:
    """Is `name` a table, column, index or trigger of the search index (not in the models)?"""
    if not name:
        return False
    return (
        name == SQLITE_TABLE
        or name.startswith(f"{SQLITE_TABLE}_")
        or name in (POSTGRES_COLUMN, POSTGRES_INDEX)
    )


def include_object(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    """For Alembic's comparison of models and database: leave the search index out."""
    if kind == "column" and name == POSTGRES_COLUMN:
        return getattr(getattr(item, "table", None), "name", "") != "message"
    return not is_index_object(name) or kind not in ("table", "index")


# --------------------------------------------------------------------------- writing


def index_message(
    session: Session, message_pk: int | None, subject: str, body: str, automatic: bool
) -> None:
    """The index row of a message just stored (SQLite; PostgreSQL keeps its own)."""
    if message_pk is None or automatic:
        return
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    stems = " ".join(words(f"{subject}\n{body}"))
    if stems:
        _driver_execute(connection, _INSERT, (message_pk, stems))


# The SQL here is built from this module's constant names only; values are bound.
_INSERT = f"INSERT INTO {SQLITE_TABLE} (rowid, words) VALUES (?, ?)"  # noqa: S608


def _driver_execute(connection: Connection, sql: str, params: tuple[Any, ...]) -> None:
    """On the driver's own cursor, in the session's transaction (one row per message)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
    finally:
        cursor.close()


# --------------------------------------------------------------------------- the schema


def create(connection: Connection) -> None:
    """Create the index and fill it from the messages there are (schema revision 0005)."""
    if connection.dialect.name == "postgresql":
        _warn_of_c_locale(connection)
        connection.execute(
            text(
                f"ALTER TABLE message ADD COLUMN {POSTGRES_COLUMN} tsvector GENERATED ALWAYS AS "
                f"(CASE WHEN automatic THEN NULL ELSE to_tsvector('{POSTGRES_CONFIG}', "
                f"left(subject || ' ' || text, {MAX_INDEXED_CHARS})) END) STORED"
            )
        )
        connection.execute(
            text(f"CREATE INDEX {POSTGRES_INDEX} ON message USING gin ({POSTGRES_COLUMN})")
        )
        return
    connection.execute(
        text(
            f"CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5(words, "
            "tokenize = 'unicode61 remove_diacritics 0', detail = none, columnsize = 0)"
        )
    )
    for trigger in _TRIGGERS:
        connection.execute(text(trigger))
    _fill(connection)


def _warn_of_c_locale(connection: Connection) -> None:
    ctype = connection.execute(
        text("SELECT datctype FROM pg_database WHERE datname = current_database()")
    ).scalar()
    if ctype in ("C", "POSIX"):
        log.warning(
            "the database's character type is %s: its full-text search takes no å, ä or ö "
            "for a letter; make the database with LC_CTYPE 'C.UTF-8' (or sv_SE.UTF-8)",
            ctype,
        )


def _fill(connection: Connection, batch: int = 2000) -> None:
    """Index the messages stored before the index existed, a batch at a time."""
    last = 0
    while True:
        rows = connection.execute(
            text(
                "SELECT id, subject, text FROM message WHERE id > :last AND NOT automatic "
                "AND case_id IS NOT NULL ORDER BY id LIMIT :batch"
            ),
            {"last": last, "batch": batch},
        ).all()
        if not rows:
            return
        values = [
            {"id": pk, "words": " ".join(words(f"{subject}\n{body}"))} for pk, subject, body in rows
        ]
        values = [value for value in values if value["words"]]
        if values:
            connection.execute(
                text(f"INSERT INTO {SQLITE_TABLE} (rowid, words) VALUES (:id, :words)"),  # noqa: S608
                values,
            )
        last = rows[-1][0]


def drop(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"DROP INDEX IF EXISTS {POSTGRES_INDEX}"))
        connection.execute(text(f"ALTER TABLE message DROP COLUMN IF EXISTS {POSTGRES_COLUMN}"))
        return
    for trigger in SQLITE_TRIGGERS:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
    connection.execute(text(f"DROP TABLE IF EXISTS {SQLITE_TABLE}"))


# --------------------------------------------------------------------------- searching


def match_sql(dialect: str) -> str:
    """SQL for the ids of the cases one word (`:word`, from `query_terms`) occurs in."""
    if dialect == "postgresql":
        return (
            f"SELECT case_id FROM message WHERE {POSTGRES_COLUMN} @@ "  # noqa: S608
            f"plainto_tsquery('{POSTGRES_CONFIG}', :word)"
        )
    return (
        f"SELECT message.case_id FROM {SQLITE_TABLE} JOIN message "  # noqa: S608
        f"ON message.id = {SQLITE_TABLE}.rowid WHERE {SQLITE_TABLE} MATCH :word"
    )


def stop_word_sql() -> str:
    """PostgreSQL: true when `:word` is a stop word (it then matches nothing, so asks nothing)."""
    return f"numnode(plainto_tsquery('{POSTGRES_CONFIG}', :word)) = 0"


def query_terms(dialect: str, given: Iterable[str]) -> list[str]:
    """The words as each engine's query takes them, one term per word: for FTS5 its stem,
    quoted (a stem holds letters and digits only); for PostgreSQL the word itself, which
    its `swedish` configuration stems as it stemmed the text."""
    if dialect == "postgresql":
        folded = (unicodedata.normalize("NFKC", word).casefold() for word in given)
        return list(dict.fromkeys(w for word in folded for w in _WORD.findall(word)))
    stems = dict.fromkeys(stem for word in given for stem in words(word))
    return [f'"{stem}"' for stem in stems]
