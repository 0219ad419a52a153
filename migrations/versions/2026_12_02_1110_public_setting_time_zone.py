"""public: the time zone a setting's pages show times in (Europe/London unless changed)

Revision ID: 9c2f4a6e1b73
Revises: 4b1d7e2a9c30
Create Date: 2026-12-02 11:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9c2f4a6e1b73"
down_revision = "4b1d7e2a9c30"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "settings",
        sa.Column(
            "time_zone", sa.String(length=64), server_default="Europe/London", nullable=False
        ),
        schema="public",
    )


def downgrade() -> None:
    op.drop_column("settings", "time_zone", schema="public")
