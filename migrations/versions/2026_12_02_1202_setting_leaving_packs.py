"""setting: leaving packs (a child's journal as PDF, photos ZIP and JSON, built by a task)

Revision ID: 5c2e8a71d9f4
Revises: 9a4e2f61b7c3
Create Date: 2026-12-02 12:02:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5c2e8a71d9f4"
down_revision = "9a4e2f61b7c3"
branch_labels = None
depends_on = None


def _moment(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "leaving_packs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("file_stem", sa.String(length=40), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        _moment("created_at"),
        _moment("finished_at", nullable=True),
        _moment("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_leaving_packs"),
        sa.CheckConstraint(
            "status IN ('queued', 'building', 'ready', 'failed')",
            name="ck_leaving_packs_pack_status",
        ),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name="fk_leaving_packs_child_id_children",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name="fk_leaving_packs_requested_by_id_users",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("file_stem", name="uq_leaving_packs_file_stem"),
    )
    op.create_index("ix_leaving_packs_child_id", "leaving_packs", ["child_id"])
    op.create_index("ix_leaving_packs_requested_by_id", "leaving_packs", ["requested_by_id"])


def downgrade() -> None:
    op.drop_table("leaving_packs")
