"""The clock and the desk at scale: each case's next wake time, by an index.

A sweep reads only the cases whose `next_wake_at` has come, instead of working out every
open case's reminder and escalations each minute. Every open case made before is looked
at once by the first sweep, which sets its wake time. `clockstate` keeps the fingerprint
of the rules the wake times were computed by: new rules have every open case looked at
again.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case") as batch_op:
        batch_op.add_column(sa.Column("next_wake_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_case_next_wake_at", ["next_wake_at"], unique=False)
    # Open cases only: closed ones get a wake time when they reopen (their status changes).
    op.execute(
        sa.text(
            "UPDATE \"case\" SET next_wake_at = '1970-01-01 00:00:00.000000' WHERE status IN "
            "('new', 'feedback', 'approved', 'confirmed', 'assigned')"
        )
    )
    op.create_table(
        "clockstate",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("clockstate")
    with op.batch_alter_table("case") as batch_op:
        batch_op.drop_index("ix_case_next_wake_at")
        batch_op.drop_column("next_wake_at")
