"""The full-text index of case mail: every message a person wrote, by its words' stems.

Words are Swedish stems (Snowball), whole words, any case. The index keeps one row per
case, keyed by its number, holding the stems of the subjects and texts of its messages:
the cases that hold every word are found in one look, where a row per message would need
one per word (and a word may be in one message, the next word in another).

On PostgreSQL the row is a `tsvector` (the `swedish` text search configuration, the same
Snowball stemmer) with a GIN index, kept by triggers on `message`: a stored message adds
its words to its case's row, a changed or deleted one has the row made again. On SQLite it
is an FTS5 table; `index_message` adds a message's stems to its case's row where the
message is stored, and triggers drop the row of a case one of whose messages is deleted or
has its text changed, so that it is never found by words it no longer holds
(`reindex_case` writes it again).

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

from sqlalchemy import Connection, text
from sqlmodel import Session

log = logging.getLogger(__name__)

# Only this much of a message is indexed: a tsvector holds at most 1 MB, and a huge mail
# is found by its first pages.
MAX_INDEXED_CHARS = 100_000
# The names of the index's objects, which the models do not describe (tests/store compares).
SQLITE_TABLE = "case_search"  # FTS5 (and its shadow tables case_search_*); on PostgreSQL
TABLE = SQLITE_TABLE  # a plain table (case_id, words tsvector)
POSTGRES_INDEX = "ix_case_search"
SQLITE_TRIGGERS = ("case_search_message_deleted", "case_search_message_changed")
_TRIGGERS = (
    "CREATE TRIGGER case_search_message_deleted AFTER DELETE ON message BEGIN "
    "DELETE FROM case_search WHERE rowid = old.case_id; END",
    "CREATE TRIGGER case_search_message_changed AFTER UPDATE OF subject, text, case_id "
    "ON message BEGIN DELETE FROM case_search WHERE rowid = old.case_id; END",
)
# A case's row holds at most this many characters of stems (a case of thousands of mails
# is found by its first ones).
MAX_CASE_CHARS = 1_000_000
POSTGRES_CONFIG = "swedish"

# What a word is: letters and digits, as FTS5's unicode61 tokenizer splits them.
_WORD = re.compile(r"[^\W_]+")


@functools.cache
def _stemmer() -> Any:
    import snowballstemmer  # type: ignore[import-untyped]  # at the first search or mail

    return snowballstemmer.stemmer("swedish")


@functools.lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    # A desk's mail uses the same words over and over; stemming one costs far more.
    return str(_stemmer().stemWord(word))


def words(value: str) -> list[str]:
    """The words of `value` as they are indexed and searched: NFKC, case folded, stemmed."""
    folded = unicodedata.normalize("NFKC", value[:MAX_INDEXED_CHARS]).casefold()
    return [_stem(word) for word in _WORD.findall(folded)]


def is_index_object(name: str | None) -> bool:
    """Is `name` a table, column, index or trigger of the search index (not in the models)?"""
    if not name:
        return False
    return name in (TABLE, POSTGRES_INDEX) or name.startswith(f"{TABLE}_")


def include_object(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
    """For Alembic's comparison of models and database: leave the search index out."""
    return not is_index_object(name) or kind not in ("table", "index")


# --------------------------------------------------------------------------- writing


def index_message(
    session: Session, case_id: int | None, subject: str, body: str, automatic: bool
) -> None:
    """Add the stems of a message just stored on case `case_id` to the case's row (SQLite;
    PostgreSQL keeps its own)."""
    if case_id is None or automatic:
        return
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    stems = " ".join(words(f"{subject}\n{body}"))
    if not stems:
        return
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:  # on the driver's own cursor, in the session's transaction: one look per message
        cursor.execute(_APPEND, (stems, MAX_CASE_CHARS, case_id))
        if cursor.rowcount == 0:
            cursor.execute(_INSERT, (case_id, stems[:MAX_CASE_CHARS]))
    finally:
        cursor.close()


def reindex_case(session: Session, case_id: int) -> None:
    """Write a case's row again from its messages (after one was changed or deleted)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    connection.execute(text(f"DELETE FROM {SQLITE_TABLE} WHERE rowid = :case"), {"case": case_id})  # noqa: S608
    stems = _case_stems(connection, case_id)
    if stems:
        connection.execute(_INSERT_NAMED, {"id": case_id, "words": stems})


# The SQL here is built from this module's constant names only; values are bound.
_APPEND = f"UPDATE {SQLITE_TABLE} SET words = substr(words || ' ' || ?, 1, ?) WHERE rowid = ?"  # noqa: S608
_INSERT = f"INSERT INTO {SQLITE_TABLE} (rowid, words) VALUES (?, ?)"  # noqa: S608
_OPTIMIZE = f"INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}) VALUES ('optimize')"  # noqa: S608
_INSERT_NAMED = text(f"INSERT INTO {SQLITE_TABLE} (rowid, words) VALUES (:id, :words)")  # noqa: S608
_MESSAGES = text(
    "SELECT case_id, subject, text FROM message WHERE case_id IS NOT NULL AND NOT automatic "
    "AND case_id > :after AND case_id <= :upto ORDER BY case_id, id"
)


def _case_stems(connection: Connection, case_id: int) -> str:
    rows = connection.execute(_MESSAGES, {"after": case_id - 1, "upto": case_id}).all()
    stems = [stem for _case, subject, body in rows for stem in words(f"{subject}\n{body}")]
    return " ".join(stems)[:MAX_CASE_CHARS]


# --------------------------------------------------------------------------- the schema


def purge_erased(connection: Connection) -> None:
    """FTS5 keeps the words of a row written again in its older segments until they merge:
    after an erasure they are merged now, so that the words leave the file (PostgreSQL
    rewrites the row's tsvector in place)."""
    if connection.dialect.name == "sqlite":
        connection.execute(text(_OPTIMIZE))


def create(connection: Connection) -> None:
    """Create the index and fill it from the messages there are (schema revision 0005)."""
    if connection.dialect.name == "postgresql":
        _warn_of_c_locale(connection)
        for statement in _POSTGRES_CREATE:
            connection.execute(text(statement))
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


def _fill(connection: Connection, batch: int = 1000) -> None:
    """Index the mail stored before the index existed, `batch` case numbers at a time."""
    highest = connection.execute(text('SELECT max(id) FROM "case"')).scalar() or 0
    for after in range(0, highest, batch):
        rows = connection.execute(_MESSAGES, {"after": after, "upto": after + batch}).all()
        by_case: dict[int, list[str]] = {}
        for case_id, subject, body in rows:
            by_case.setdefault(case_id, []).extend(words(f"{subject}\n{body}"))
        values = [
            {"id": case_id, "words": " ".join(stems)[:MAX_CASE_CHARS]}
            for case_id, stems in by_case.items()
            if stems
        ]
        if values:
            connection.execute(_INSERT_NAMED, values)


def drop(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        for statement in _POSTGRES_DROP:
            connection.execute(text(statement))
        return
    for trigger in SQLITE_TRIGGERS:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
    connection.execute(text(f"DROP TABLE IF EXISTS {SQLITE_TABLE}"))


# PostgreSQL keeps the rows itself. A tsvector holds at most 1 MB: a case's row stops
# growing at half of that (a case of thousands of mails is found by its first ones).
_POSTGRES_CREATE = (
    "CREATE TABLE case_search (case_id integer PRIMARY KEY, words tsvector NOT NULL)",
    "CREATE INDEX ix_case_search ON case_search USING gin (words)",
    """CREATE FUNCTION case_search_make(number integer) RETURNS void LANGUAGE sql AS $$
        DELETE FROM case_search WHERE case_id = number;
        INSERT INTO case_search (case_id, words)
        SELECT number, to_tsvector('swedish', left(string_agg(subject || ' ' || text, ' '
            ORDER BY id), 400000))
        FROM message WHERE case_id = number AND NOT automatic HAVING count(*) > 0;
    $$""",
    """CREATE FUNCTION case_search_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.automatic OR NEW.case_id IS NULL THEN RETURN NULL; END IF;
        INSERT INTO case_search (case_id, words) VALUES (NEW.case_id,
            to_tsvector('swedish', left(NEW.subject || ' ' || NEW.text, 100000)))
        ON CONFLICT (case_id) DO UPDATE SET words = CASE
            WHEN pg_column_size(case_search.words) > 500000 THEN case_search.words
            ELSE case_search.words || EXCLUDED.words END;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION case_search_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.case_id IS NOT NULL THEN PERFORM case_search_make(OLD.case_id); END IF;
        IF TG_OP = 'UPDATE' AND NEW.case_id IS NOT NULL
            AND NEW.case_id IS DISTINCT FROM OLD.case_id THEN
            PERFORM case_search_make(NEW.case_id);
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER case_search_message_added AFTER INSERT ON message "
    "FOR EACH ROW EXECUTE FUNCTION case_search_added()",
    "CREATE TRIGGER case_search_message_changed AFTER DELETE OR UPDATE OF subject, text, "
    "case_id, automatic ON message FOR EACH ROW EXECUTE FUNCTION case_search_changed()",
    # the mail there already is
    "INSERT INTO case_search (case_id, words) SELECT case_id, to_tsvector('swedish', "
    "left(string_agg(subject || ' ' || text, ' ' ORDER BY id), 400000)) FROM message "
    "WHERE case_id IS NOT NULL AND NOT automatic GROUP BY case_id",
)
_POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS case_search_message_added ON message",
    "DROP TRIGGER IF EXISTS case_search_message_changed ON message",
    "DROP FUNCTION IF EXISTS case_search_added()",
    "DROP FUNCTION IF EXISTS case_search_changed()",
    "DROP FUNCTION IF EXISTS case_search_make(integer)",
    "DROP TABLE IF EXISTS case_search",
)


# --------------------------------------------------------------------------- searching


def match_sql(dialect: str) -> str:
    """SQL for the numbers (`case_id`) of the cases that hold every word of `:word`, the
    query `query_terms` made; PostgreSQL asks nothing of stop words alone (they match
    nothing there)."""
    if dialect == "postgresql":
        query = f"plainto_tsquery('{POSTGRES_CONFIG}', :word)"
        return f"SELECT case_id FROM {TABLE} WHERE words @@ {query} OR numnode({query}) = 0"  # noqa: S608
    return f"SELECT rowid AS case_id FROM {SQLITE_TABLE} WHERE {SQLITE_TABLE} MATCH :word"  # noqa: S608


def query_terms(dialect: str, given: Iterable[str]) -> list[str]:
    """The words as each engine's query takes them, all in one query (none: no words):
    for PostgreSQL the words themselves, which its `swedish` configuration stems as it
    stemmed the text; for FTS5 every word's stem, quoted (a stem holds letters and digits
    only), which FTS5 takes as all of them."""
    if dialect == "postgresql":
        folded = (unicodedata.normalize("NFKC", word).casefold() for word in given)
        found = dict.fromkeys(w for word in folded for w in _WORD.findall(word))
        return [" ".join(found)] if found else []
    stems = dict.fromkeys(stem for word in given for stem in words(word))
    return [" ".join(f'"{stem}"' for stem in stems)] if stems else []
