"""How each inbound mail was read (parse notes), and addresses whose mail bounced for good.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppression",
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("address"),
    )
    op.create_index("ix_suppression_until", "suppression", ["until"], unique=False)
    # Existing mail was read before notes were kept: an empty note, not a NULL.
    with op.batch_alter_table("message") as batch_op:
        batch_op.add_column(sa.Column("parse_notes", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch_op:
        batch_op.drop_column("parse_notes")
    op.drop_index("ix_suppression_until", table_name="suppression")
    op.drop_table("suppression")
