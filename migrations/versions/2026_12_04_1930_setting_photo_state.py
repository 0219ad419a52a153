"""setting: a photo's state, so an upload is processed after its request

The request checks an upload from its header and structure and keeps its bytes aside;
the display image and thumbnail are made by a worker (or on first fetch). Existing
photos are all ready.

Revision ID: 9b3e5d27c1a4
Revises: 4f2a8c6e1d93
Create Date: 2026-12-04 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9b3e5d27c1a4"
down_revision = "4f2a8c6e1d93"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "observation_photos",
        sa.Column("state", sa.String(length=20), nullable=False, server_default="ready"),
    )
    op.create_check_constraint(
        "ck_observation_photos_photo_state",
        "observation_photos",
        "state IN ('waiting', 'ready', 'failed')",
    )
    op.create_index(
        "ix_observation_photos_waiting",
        "observation_photos",
        ["created_at"],
        postgresql_where=sa.text("state = 'waiting'"),
    )


def downgrade() -> None:
    op.drop_index("ix_observation_photos_waiting", "observation_photos")
    op.drop_constraint("ck_observation_photos_photo_state", "observation_photos")
    op.drop_column("observation_photos", "state")
