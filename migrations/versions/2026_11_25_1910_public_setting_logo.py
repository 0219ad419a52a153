"""public: an optional logo per setting

Revision ID: 2c6f0b8d4e15
Revises: 0871688e8a8a
Create Date: 2026-11-25 19:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "2c6f0b8d4e15"
down_revision = "0871688e8a8a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("settings", sa.Column("logo_file", sa.String(length=80)), schema="public")


def downgrade() -> None:
    op.drop_column("settings", "logo_file", schema="public")
