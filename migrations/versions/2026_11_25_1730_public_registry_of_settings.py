"""public: the registry of settings

Revision ID: 7f3a1c2b9d01
Revises:
Create Date: 2026-11-25 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "7f3a1c2b9d01"
down_revision = None
branch_labels = ("public",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("schema_name", sa.String(length=63), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "suspended", name="setting_status", schema="public"),
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_settings"),
        sa.UniqueConstraint("slug", name="uq_settings_slug"),
        sa.UniqueConstraint("schema_name", name="uq_settings_schema_name"),
        schema="public",
    )


def downgrade() -> None:
    op.drop_table("settings", schema="public")
    sa.Enum(name="setting_status", schema="public").drop(op.get_bind())
