"""public: the version of each setting's usage policy in force (read by the request gate)

Revision ID: b51e0c7a3d92
Revises: 9c2f4a6e1b73
Create Date: 2026-12-02 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b51e0c7a3d92"
down_revision = "9c2f4a6e1b73"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "settings",
        sa.Column("usage_policy_version", sa.Integer(), server_default="1", nullable=False),
        schema="public",
    )
    op.create_check_constraint(
        "ck_settings_usage_policy_version_positive",
        "settings",
        "usage_policy_version >= 1",
        schema="public",
    )


def downgrade() -> None:
    op.drop_constraint(
        "ck_settings_usage_policy_version_positive", "settings", type_="check", schema="public"
    )
    op.drop_column("settings", "usage_policy_version", schema="public")
