"""setting: the durable queue of files to delete after a commit

Revision ID: 4e1d9b7c2a60
Revises: 7662f62ccb18
Create Date: 2026-12-02 10:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "4e1d9b7c2a60"
down_revision = "7662f62ccb18"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "file_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_file_deletions"),
    )
    op.create_index("ix_file_deletions_due_at", "file_deletions", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_file_deletions_due_at", table_name="file_deletions")
    op.drop_table("file_deletions")
