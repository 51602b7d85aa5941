"""On call: SMS through the outbox.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smsoutbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("to_email", sa.String(), nullable=False),
        sa.Column("to_number", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_smsoutbox_case_id", "smsoutbox", ["case_id"], unique=False)
    op.create_index("ix_smsoutbox_status", "smsoutbox", ["status"], unique=False)
    op.create_index("ix_smsoutbox_next_attempt_at", "smsoutbox", ["next_attempt_at"], unique=False)
    op.create_index(
        "ix_smsoutbox_number_status", "smsoutbox", ["to_number", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_smsoutbox_number_status", table_name="smsoutbox")
    op.drop_index("ix_smsoutbox_next_attempt_at", table_name="smsoutbox")
    op.drop_index("ix_smsoutbox_status", table_name="smsoutbox")
    op.drop_index("ix_smsoutbox_case_id", table_name="smsoutbox")
    op.drop_table("smsoutbox")
