"""setting: observations, their children, photos and comments; journal access log; content rules

Revision ID: 5d88417589a2
Revises: c4d2a7e91f36
Create Date: 2026-11-25 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5d88417589a2"
down_revision = "c4d2a7e91f36"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _one_of(table: str, column: str, name: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=f"ck_{table}_{name}")


def _moment(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("next_steps", sa.Text(), nullable=False),
        sa.Column("areas", sa.ARRAY(sa.String(length=12)), nullable=False),
        sa.Column("characteristics", sa.ARRAY(sa.String(length=12)), nullable=False),
        sa.Column("age_band", sa.String(length=12), nullable=True),
        _moment("created_at"),
        _moment("updated_at"),
        _moment("published_at", nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        _moment("reviewed_at", nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_observations"),
        _one_of("observations", "kind", "observation_kind", ("staff", "home")),
        _one_of(
            "observations",
            "status",
            "observation_status",
            ("draft", "in_review", "published", "declined"),
        ),
        _fk("observations", "author_id", "users", "SET NULL"),
        _fk("observations", "reviewed_by_id", "users", "SET NULL"),
    )
    op.create_index("ix_observations_author_id", "observations", ["author_id"])
    op.create_index("ix_observations_status_observed_on", "observations", ["status", "observed_on"])
    op.create_index("ix_observations_areas", "observations", ["areas"], postgresql_using="gin")

    op.create_table(
        "observation_children",
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("observation_id", "child_id", name="pk_observation_children"),
        _fk("observation_children", "observation_id", "observations", "CASCADE"),
        _fk("observation_children", "child_id", "children", "CASCADE"),
    )
    op.create_index("ix_observation_children_child_id", "observation_children", ["child_id"])

    op.create_table(
        "observation_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=80), nullable=False),
        sa.Column("thumbnail_name", sa.String(length=80), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=False),
        _moment("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_observation_photos"),
        _fk("observation_photos", "observation_id", "observations", "CASCADE"),
        sa.UniqueConstraint("file_name", name="uq_observation_photos_file_name"),
        sa.UniqueConstraint("thumbnail_name", name="uq_observation_photos_thumbnail_name"),
    )
    op.create_index(
        "ix_observation_photos_observation_id", "observation_photos", ["observation_id"]
    )

    op.create_table(
        "photo_children",
        sa.Column("photo_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("photo_id", "child_id", name="pk_photo_children"),
        _fk("photo_children", "photo_id", "observation_photos", "CASCADE"),
        _fk("photo_children", "child_id", "children", "CASCADE"),
    )
    op.create_index("ix_photo_children_child_id", "photo_children", ["child_id"])

    op.create_table(
        "observation_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        _moment("created_at"),
        _moment("hidden_at", nullable=True),
        sa.Column("hidden_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_observation_comments"),
        _fk("observation_comments", "observation_id", "observations", "CASCADE"),
        _fk("observation_comments", "child_id", "children", "CASCADE"),
        _fk("observation_comments", "author_id", "users", "SET NULL"),
        _fk("observation_comments", "hidden_by_id", "users", "SET NULL"),
    )
    op.create_index(
        "ix_observation_comments_observation_id", "observation_comments", ["observation_id"]
    )

    op.create_table(
        "journal_access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _moment("at"),
        sa.Column("viewer_id", sa.Integer(), nullable=True),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("observation_id", sa.Integer(), nullable=True),
        sa.Column("what", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journal_access_log"),
        _fk("journal_access_log", "viewer_id", "users", "SET NULL"),
        _fk("journal_access_log", "child_id", "children", "CASCADE"),
        _fk("journal_access_log", "observation_id", "observations", "SET NULL"),
        _one_of("journal_access_log", "what", "journal_view", ("journal", "observation", "export")),
    )
    op.create_index("ix_journal_access_log_child_id_at", "journal_access_log", ["child_id", "at"])

    op.create_table(
        "content_rules",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("blocked_phrases", sa.ARRAY(sa.String(length=200)), nullable=False),
        sa.Column("no_surnames", sa.Boolean(), nullable=False),
        sa.Column("no_other_children_names", sa.Boolean(), nullable=False),
        sa.Column("photo_limit", sa.Integer(), nullable=True),
        _moment("updated_at", nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_content_rules"),
        sa.CheckConstraint("id = 1", name="ck_content_rules_one_row"),
        sa.CheckConstraint(
            "photo_limit IS NULL OR photo_limit >= 0",
            name="ck_content_rules_photo_limit_not_negative",
        ),
        _one_of("content_rules", "mode", "content_rules_mode", ("warn", "needs_approval")),
        _fk("content_rules", "updated_by_id", "users", "SET NULL"),
    )


def downgrade() -> None:
    op.drop_table("content_rules")
    op.drop_table("journal_access_log")
    op.drop_table("observation_comments")
    op.drop_table("photo_children")
    op.drop_table("observation_photos")
    op.drop_table("observation_children")
    op.drop_table("observations")
