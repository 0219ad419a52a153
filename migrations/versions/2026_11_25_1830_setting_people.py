"""setting: children, staff members' dates, parent links and parent departures

Revision ID: c4d2a7e91f36
Revises: 3b8e5d0a4c11
Create Date: 2026-11-25 18:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c4d2a7e91f36"
down_revision = "3b8e5d0a4c11"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "children",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=60), nullable=False),
        sa.Column("last_name", sa.String(length=60), nullable=False),
        sa.Column("preferred_name", sa.String(length=60), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("room", sa.String(length=60), nullable=False),
        sa.Column("key_person_id", sa.Integer(), nullable=True),
        sa.Column("photo_consent", sa.Boolean(), nullable=False),
        sa.Column("leaving_date", sa.Date(), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "leaving_date IS NULL OR leaving_date >= start_date",
            name="ck_children_leaving_after_start",
        ),
        sa.ForeignKeyConstraint(
            ["key_person_id"],
            ["users.id"],
            name="fk_children_key_person_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_children"),
    )
    op.create_index("ix_children_key_person_id", "children", ["key_person_id"])
    op.create_table(
        "staff_members",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("leaving_date", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "leaving_date IS NULL OR start_date IS NULL OR leaving_date >= start_date",
            name="ck_staff_members_leaving_after_start",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_staff_members_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_staff_members"),
    )
    op.create_table(
        "parent_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("relationship", sa.String(length=40), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["users.id"], name="fk_parent_links_parent_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["child_id"],
            ["children.id"],
            name="fk_parent_links_child_id_children",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["users.id"],
            name="fk_parent_links_confirmed_by_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_parent_links"),
        sa.UniqueConstraint("parent_id", "child_id", name="uq_parent_links_parent_id_child_id"),
    )
    op.create_index("ix_parent_links_child_id", "parent_links", ["child_id"])
    op.create_table(
        "parent_departures",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("last_child_left_on", sa.Date(), nullable=False),
        sa.Column("notice_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("access_ends_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_parent_departures_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_parent_departures"),
    )


def downgrade() -> None:
    op.drop_table("parent_departures")
    op.drop_table("parent_links")
    op.drop_table("staff_members")
    op.drop_index("ix_children_key_person_id", table_name="children")
    op.drop_table("children")
