"""Case channel as the customer sees it, a case type, and free labels on a case.

A case's channel named the transport a mail came by (smtp, lmtp, imap, ingest); it now
names how the customer reached us (mail, web, phone, visit, letter), so every case made
before is a mail case.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case") as batch_op:
        batch_op.add_column(sa.Column("type", sa.String(), nullable=True))
    op.execute(sa.text("UPDATE \"case\" SET channel = 'mail' WHERE channel <> 'web'"))
    op.create_table(
        "caselabel",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["case.id"]),
        sa.PrimaryKeyConstraint("case_id", "label"),
    )
    op.create_index("ix_caselabel_label", "caselabel", ["label"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_caselabel_label", table_name="caselabel")
    op.drop_table("caselabel")
    with op.batch_alter_table("case") as batch_op:
        batch_op.drop_column("type")
