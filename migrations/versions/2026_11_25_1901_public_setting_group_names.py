"""public: per-setting group-name policy (other children's names shown or hidden)

Revision ID: 0871688e8a8a
Revises: 9a1e6b3f5d27
Create Date: 2026-11-25 19:01:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0871688e8a8a"
down_revision = "9a1e6b3f5d27"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "settings",
        sa.Column("group_names", sa.String(length=10), server_default="hidden", nullable=False),
        schema="public",
    )
    op.create_check_constraint(
        "ck_settings_group_names_known",
        "settings",
        "group_names IN ('shown', 'hidden')",
        schema="public",
    )


def downgrade() -> None:
    op.drop_constraint("ck_settings_group_names_known", "settings", type_="check", schema="public")
    op.drop_column("settings", "group_names", schema="public")
