"""setting: when mail to a user's address was refused by the SMTP server, and why

Revision ID: 7662f62ccb18
Revises: 5d88417589a2
Create Date: 2026-11-25 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "7662f62ccb18"
down_revision = "5d88417589a2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email_bounced_at", sa.DateTime(timezone=True)))
    op.add_column("users", sa.Column("email_bounce_reason", sa.String(length=200)))


def downgrade() -> None:
    op.drop_column("users", "email_bounce_reason")
    op.drop_column("users", "email_bounced_at")
