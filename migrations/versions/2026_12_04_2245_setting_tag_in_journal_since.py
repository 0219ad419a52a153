"""setting: when each child's family could first see an observation

A child added to a published observation by a correction held for approval was never
news to their family, and the daily email and home page counted an observation as new
only from its first publishing. Observations already published count from then.

Revision ID: 6c1f4a8e2b97
Revises: 9b3e5d27c1a4
Create Date: 2026-12-04 22:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "6c1f4a8e2b97"
down_revision = "9b3e5d27c1a4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "observation_children",
        sa.Column("in_journal_since", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute(
        "UPDATE observation_children AS tag SET in_journal_since = observations.published_at"
        " FROM observations WHERE observations.id = tag.observation_id"
    )


def downgrade() -> None:
    op.drop_column("observation_children", "in_journal_since")
