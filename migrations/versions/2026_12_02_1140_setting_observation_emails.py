"""setting: each parent's choice of emails about new observations (off, each one, daily)

Revision ID: 6a8d2f4c9e15
Revises: 3b9e5c71a0d4
Create Date: 2026-12-02 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "6a8d2f4c9e15"
down_revision = "3b9e5c71a0d4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observation_emails",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("choice", sa.String(length=20), nullable=False),
        sa.Column("digest_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="pk_observation_emails"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_observation_emails_user_id_users",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "choice IN ('off', 'each', 'daily')",
            name="ck_observation_emails_observation_email_choice",
        ),
    )


def downgrade() -> None:
    op.drop_table("observation_emails")
