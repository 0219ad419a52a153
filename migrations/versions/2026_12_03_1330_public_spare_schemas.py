"""public: the pool of spare setting schemas, built ahead of provisioning (spare_schemas)

Revision ID: 5c8e2f4a7b16
Revises: 6a3e8d1f0c47
Create Date: 2026-12-03 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5c8e2f4a7b16"
down_revision = "6a3e8d1f0c47"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spare_schemas",
        sa.Column("schema_name", sa.String(length=63), nullable=False),
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.Column(
            "built_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("schema_name", name="pk_spare_schemas"),
        schema="public",
    )


def downgrade() -> None:
    op.drop_table("spare_schemas", schema="public")
