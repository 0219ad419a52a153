"""public: per-setting people policies (the parents' grace period after their last child leaves)

Revision ID: 9a1e6b3f5d27
Revises: 7f3a1c2b9d01
Create Date: 2026-11-25 18:32:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9a1e6b3f5d27"
down_revision = "7f3a1c2b9d01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "settings",
        sa.Column("parent_grace_days", sa.Integer(), server_default="14", nullable=False),
        schema="public",
    )
    op.create_check_constraint(
        "ck_settings_parent_grace_days_not_negative",
        "settings",
        "parent_grace_days >= 0",
        schema="public",
    )


def downgrade() -> None:
    op.drop_constraint(
        "ck_settings_parent_grace_days_not_negative", "settings", type_="check", schema="public"
    )
    op.drop_column("settings", "parent_grace_days", schema="public")
