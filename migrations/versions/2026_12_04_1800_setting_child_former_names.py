"""setting: a child's former names, so the masking still hides a name they were known by

A renamed child's earlier observations still say the old name ("Barty" before he was
"Bertie"): other families were shown it once the masking knew only the new one.

Revision ID: 4f2a8c6e1d93
Revises: 7d41c2e9b3f6
Create Date: 2026-12-04 18:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "4f2a8c6e1d93"
down_revision = "7d41c2e9b3f6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "children",
        sa.Column(
            "former_names",
            postgresql.ARRAY(sa.String()),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )


def downgrade() -> None:
    op.drop_column("children", "former_names")
