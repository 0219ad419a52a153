"""setting: legal holds, which stop the purge of one child's or account's records

Revision ID: 9a4e2f61b7c3
Revises: 9b3f6e2d8c14
Create Date: 2026-12-02 12:01:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9a4e2f61b7c3"
down_revision = "9b3f6e2d8c14"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("placed_by_id", sa.Integer(), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_legal_holds"),
        sa.CheckConstraint(
            "(child_id IS NULL) <> (user_id IS NULL)", name="ck_legal_holds_one_person"
        ),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name="fk_legal_holds_child_id_children",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_legal_holds_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["placed_by_id"],
            ["users.id"],
            name="fk_legal_holds_placed_by_id_users",
            ondelete="SET NULL",
        ),
        sa.UniqueConstraint("child_id", name="uq_legal_holds_child_id"),
        sa.UniqueConstraint("user_id", name="uq_legal_holds_user_id"),
    )


def downgrade() -> None:
    op.drop_table("legal_holds")
