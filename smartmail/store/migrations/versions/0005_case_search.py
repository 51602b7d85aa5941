"""Search over case subjects and message texts.

A full-text index of every message a person wrote, by Swedish stems: on PostgreSQL a
generated tsvector column on `message` with a GIN index (filled for the rows there are as
the column is added); on SQLite an FTS5 table keyed by the message's id, filled here from
the messages there are and written from then on where a message is stored.

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
