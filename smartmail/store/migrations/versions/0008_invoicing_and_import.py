"""Invoicing basis and moving in from a shared mailbox.

Material on a time entry may name its quantity, unit and unit price beside the total
(`#material vattenlås 2 st 249`), and the entries are read by period for the invoicing
basis. Mail moved in by `smartmail import` is marked by its message's channel (`import`):
no column of its own.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("timeentry") as batch_op:
        batch_op.add_column(sa.Column("quantity", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("unit", sa.String(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("unit_price", sa.Float(), nullable=True))
    op.create_index("ix_timeentry_at", "timeentry", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_timeentry_at", table_name="timeentry")
    with op.batch_alter_table("timeentry") as batch_op:
        batch_op.drop_column("unit_price")
        batch_op.drop_column("unit")
        batch_op.drop_column("quantity")
