"""Mail from one sender lately, found by an index: the loop limit asks for every mail.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_message_from_in", "message", ["from_addr", "direction", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_message_from_in", table_name="message")
