"""public: a setting can be marked deleted (it left the service; its schema is dropped)

Revision ID: 6d3f9b2c8e15
Revises: 3b7d51c0e2a4
Create Date: 2026-12-02 12:00:00
"""

from alembic import op

revision = "6d3f9b2c8e15"
down_revision = "3b7d51c0e2a4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TYPE public.setting_status ADD VALUE IF NOT EXISTS 'deleted'")


def downgrade() -> None:
    # PostgreSQL cannot drop a value from an enum type; an unused value is harmless.
    pass
