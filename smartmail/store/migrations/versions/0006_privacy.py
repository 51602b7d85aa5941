"""Privacy: retention (erased markers, sizes of erased raw mail), legal hold, access log.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ERASABLE = ("party", "case", "message", "attachment", "rawmail")


def upgrade() -> None:
    for table in _ERASABLE:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("case") as batch_op:
        batch_op.add_column(
            sa.Column("hold", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("rawmail") as batch_op:
        batch_op.add_column(sa.Column("size", sa.Integer(), nullable=True))
    op.create_index("ix_rawmail_received_at", "rawmail", ["received_at"], unique=False)
    op.create_index("ix_outbox_message_pk", "outbox", ["message_pk"], unique=False)
    op.create_table(
        "accesslog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("person", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_accesslog_at", "accesslog", ["at"], unique=False)
    op.create_index("ix_accesslog_case_id", "accesslog", ["case_id"], unique=False)
    op.create_index("ix_accesslog_person", "accesslog", ["person"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_accesslog_person", table_name="accesslog")
    op.drop_index("ix_accesslog_case_id", table_name="accesslog")
    op.drop_index("ix_accesslog_at", table_name="accesslog")
    op.drop_table("accesslog")
    op.drop_index("ix_outbox_message_pk", table_name="outbox")
    op.drop_index("ix_rawmail_received_at", table_name="rawmail")
    with op.batch_alter_table("rawmail") as batch_op:
        batch_op.drop_column("size")
    with op.batch_alter_table("case") as batch_op:
        batch_op.drop_column("hold")
    for table in reversed(_ERASABLE):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("erased_at")
