"""Raw mail: its bytes as the table's last column.

A large mail's bytes are written into a row made with a zero-filled blob of their size
(store/rawmail.py). SQLite builds such a row without holding those zeros in memory only
when the blob is the row's last column; anywhere else it makes the whole blob in memory
first. So on SQLite the table is copied into one with `data` last: every row, the primary
key and the index on `received_at` come along (nothing refers to this table by a foreign
key, so dropping the old copy checks none). On a large database this copies all raw mail
once: it takes time and about that much free disk.

On PostgreSQL this revision does nothing: there the bytes are bound as one value, and a
large value lives out of the row (TOAST) wherever its column is.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BYTES_LAST = ("sha256", "received_at", "size", "erased_at", "data")
_BYTES_SECOND = ("sha256", "data", "received_at", "size", "erased_at")  # as 0001 and 0006 left it


def upgrade() -> None:
    _order_columns(_BYTES_LAST)


def downgrade() -> None:
    _order_columns(_BYTES_SECOND)


def _order_columns(order: tuple[str, ...]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("rawmail", recreate="always", partial_reordering=[order]):
        pass
