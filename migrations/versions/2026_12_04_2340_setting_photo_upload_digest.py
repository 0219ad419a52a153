"""setting: who uploaded each photo, and a digest of the bytes they sent

A photo upload tapped twice made two identical photos: the same bytes sent again by the
same person to the same observation a moment later are now the photo already added.
Photos uploaded before have neither (nothing to match them against).

Revision ID: 7d4e2a9c1f60
Revises: 6c1f4a8e2b97
Create Date: 2026-12-04 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "7d4e2a9c1f60"
down_revision = "6c1f4a8e2b97"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("observation_photos", sa.Column("added_by_id", sa.Integer(), nullable=True))
    op.add_column(
        "observation_photos", sa.Column("upload_digest", sa.String(length=64), nullable=True)
    )
    op.create_foreign_key(
        "fk_observation_photos_added_by_id_users",
        "observation_photos",
        "users",
        ["added_by_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_observation_photos_added_by_id", "observation_photos", ["added_by_id"])


def downgrade() -> None:
    op.drop_index("ix_observation_photos_added_by_id", "observation_photos")
    op.drop_constraint("fk_observation_photos_added_by_id_users", "observation_photos")
    op.drop_column("observation_photos", "upload_digest")
    op.drop_column("observation_photos", "added_by_id")
