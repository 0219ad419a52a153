"""setting: indexes on the foreign keys a purge deletes through

Deleting a user, a child or an observation makes PostgreSQL null or delete the rows that
point at it, table by table; without an index on the pointing column that is a scan of
the whole table for every row deleted (a purge of 200 parents scanned every observation
200 times for ``reviewed_by_id``).

Revision ID: 3e7b9d2c5a81
Revises: 9c2f4a7e1b58
Create Date: 2026-12-02 15:00:00
"""

from alembic import op

revision = "3e7b9d2c5a81"
down_revision = "9c2f4a7e1b58"
branch_labels = None
depends_on = None

INDEXED = (
    ("audit_log", "actor_id"),
    ("observations", "reviewed_by_id"),
    ("observation_revisions", "editor_id"),
    ("observation_comments", "child_id"),
    ("observation_comments", "author_id"),
    ("observation_comments", "hidden_by_id"),
    ("journal_access_log", "viewer_id"),
    ("journal_access_log", "observation_id"),
    ("parent_links", "confirmed_by_id"),
)


def upgrade() -> None:
    for table, column in INDEXED:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in reversed(INDEXED):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
