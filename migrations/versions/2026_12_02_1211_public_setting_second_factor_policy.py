"""public: who must have a second factor at each setting, and the grace period to enrol

Revision ID: 6a3e8d1f0c47
Revises: 6d3f9b2c8e15
Create Date: 2026-12-02 12:11:00
"""

import sqlalchemy as sa
from alembic import op

revision = "6a3e8d1f0c47"
down_revision = "6d3f9b2c8e15"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "settings",
        sa.Column(
            "second_factor_required_for",
            sa.String(length=10),
            server_default="nobody",
            nullable=False,
        ),
        schema="public",
    )
    op.add_column(
        "settings",
        sa.Column("second_factor_grace_days", sa.Integer(), server_default="7", nullable=False),
        schema="public",
    )
    op.add_column(
        "settings",
        sa.Column("second_factor_required_since", sa.DateTime(timezone=True)),
        schema="public",
    )
    op.create_check_constraint(
        "ck_settings_second_factor_required_for_known",
        "settings",
        "second_factor_required_for IN ('nobody', 'managers', 'staff', 'everyone')",
        schema="public",
    )
    op.create_check_constraint(
        "ck_settings_second_factor_grace_days_in_range",
        "settings",
        "second_factor_grace_days BETWEEN 0 AND 90",
        schema="public",
    )


def downgrade() -> None:
    for name in ("second_factor_grace_days_in_range", "second_factor_required_for_known"):
        op.drop_constraint(f"ck_settings_{name}", "settings", type_="check", schema="public")
    for column in (
        "second_factor_required_since",
        "second_factor_grace_days",
        "second_factor_required_for",
    ):
        op.drop_column("settings", column, schema="public")
