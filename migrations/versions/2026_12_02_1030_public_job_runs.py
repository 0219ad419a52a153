"""public: the history of the operator's jobs (job_runs)

Revision ID: 4b1d7e2a9c30
Revises: 8ee863a9d2b6
Create Date: 2026-12-02 10:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "4b1d7e2a9c30"
down_revision = "8ee863a9d2b6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("job", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("worker", sa.String(length=200), server_default="", nullable=False),
        sa.Column("counts", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('running', 'succeeded', 'failed', 'skipped', 'died')",
            name="ck_job_runs_outcome_known",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_job_runs"),
        schema="public",
    )
    op.create_index(
        "ix_job_runs_job_started_at", "job_runs", ["job", "started_at"], schema="public"
    )


def downgrade() -> None:
    op.drop_index("ix_job_runs_job_started_at", table_name="job_runs", schema="public")
    op.drop_table("job_runs", schema="public")
