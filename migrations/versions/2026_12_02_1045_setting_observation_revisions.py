"""setting: corrections of published observations (revisions, edited marks), edited comments

Revision ID: 3b9e5c71a0d4
Revises: 4e1d9b7c2a60
Create Date: 2026-12-02 10:45:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "3b9e5c71a0d4"
down_revision = "4e1d9b7c2a60"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("observations", sa.Column("edited_at", sa.DateTime(timezone=True)))
    op.add_column("observation_comments", sa.Column("edited_at", sa.DateTime(timezone=True)))
    op.create_table(
        "observation_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("changes", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_observation_revisions"),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name="fk_observation_revisions_observation_id_observations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["users.id"],
            name="fk_observation_revisions_editor_id_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index(
        "ix_observation_revisions_observation_id", "observation_revisions", ["observation_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_observation_revisions_observation_id", table_name="observation_revisions")
    op.drop_table("observation_revisions")
    op.drop_column("observation_comments", "edited_at")
    op.drop_column("observations", "edited_at")
