"""public: the rest of the retention schedule (parents, staff, logs, links, emails, exports)

Defaults, bounds and reasons are those of ``app.retention.schedule.RULES``.

Revision ID: 3b7d51c0e2a4
Revises: b51e0c7a3d92
Create Date: 2026-12-02 11:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "3b7d51c0e2a4"
down_revision = "b51e0c7a3d92"
branch_labels = None
depends_on = None

PERIODS = (
    # column, default, lowest, highest, constraint name
    ("parent_retention_years", 1, 1, 6, "parent_retention"),
    ("staff_retention_years", 6, 1, 10, "staff_retention"),
    ("log_retention_years", 2, 1, 7, "log_retention"),
    ("link_retention_days", 30, 1, 365, "link_retention"),
    ("message_retention_days", 30, 1, 365, "message_retention"),
    ("export_retention_days", 30, 1, 90, "export_retention"),
)


def upgrade() -> None:
    for column, default, low, high, name in PERIODS:
        op.add_column(
            "settings",
            sa.Column(column, sa.Integer(), server_default=str(default), nullable=False),
            schema="public",
        )
        op.create_check_constraint(
            f"ck_settings_{name}", "settings", f"{column} BETWEEN {low} AND {high}", schema="public"
        )


def downgrade() -> None:
    for column, _, _, _, name in PERIODS:
        op.drop_constraint(f"ck_settings_{name}", "settings", type_="check", schema="public")
        op.drop_column("settings", column, schema="public")
