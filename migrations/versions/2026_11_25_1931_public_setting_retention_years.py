"""public: years a child's records are kept after they leave (a per-setting policy)

3 years is a conservative default each setting can change (1-25): the EYFS sets no statutory
retention period for learning journals, settings commonly keep them until the child is several
years past leaving, and the setting, as data controller, decides.

Revision ID: 8ee863a9d2b6
Revises: 2c6f0b8d4e15
Create Date: 2026-11-25 19:31:00
"""

import sqlalchemy as sa
from alembic import op

revision = "8ee863a9d2b6"
down_revision = "2c6f0b8d4e15"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "settings",
        sa.Column(
            "retention_years_after_leaving", sa.Integer(), server_default="3", nullable=False
        ),
        schema="public",
    )
    op.create_check_constraint(
        "ck_settings_retention_years_in_range",
        "settings",
        "retention_years_after_leaving BETWEEN 1 AND 25",
        schema="public",
    )


def downgrade() -> None:
    op.drop_constraint(
        "ck_settings_retention_years_in_range", "settings", type_="check", schema="public"
    )
    op.drop_column("settings", "retention_years_after_leaving", schema="public")
