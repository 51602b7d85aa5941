"""Search over case subjects and message texts.

A full-text index with one row per case of the words of every message a person wrote on it:
on PostgreSQL a `case_search` table with a tsvector (Swedish configuration) and a GIN index,
kept by the database's triggers; on SQLite an FTS5 table of Swedish stems keyed by the
case's number, written where a message is stored. Both are filled here from the mail there
is (smartmail/store/search.py).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

from smartmail.store import search

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    search.create(op.get_bind())


def downgrade() -> None:
    search.drop(op.get_bind())
