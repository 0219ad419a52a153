"""setting: the email outbox; a parent's departure names its notice and is told on delivery

Revision ID: 9b3f6e2d8c14
Revises: 4e9d2f6a8c13
Create Date: 2026-12-02 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9b3f6e2d8c14"
down_revision = "4e9d2f6a8c13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("template", sa.String(length=60), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'bounced', 'failed')",
            name="ck_outbox_messages_delivery_status",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_outbox_messages_user_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
    )
    op.create_index("ix_outbox_messages_user_id", "outbox_messages", ["user_id"])
    op.create_index("ix_outbox_messages_next_attempt_at", "outbox_messages", ["next_attempt_at"])
    # Notices sent before the outbox went out at once: they keep their notice_sent_at.
    op.add_column("parent_departures", sa.Column("notice_id", sa.Integer(), nullable=True))
    op.alter_column("parent_departures", "notice_sent_at", nullable=True)
    op.create_foreign_key(
        "fk_parent_departures_notice_id_outbox_messages",
        "parent_departures",
        "outbox_messages",
        ["notice_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_parent_departures_notice_id", "parent_departures", ["notice_id"])


def downgrade() -> None:
    op.drop_index("ix_parent_departures_notice_id", table_name="parent_departures")
    op.drop_constraint(
        "fk_parent_departures_notice_id_outbox_messages", "parent_departures", type_="foreignkey"
    )
    op.execute("DELETE FROM parent_departures WHERE notice_sent_at IS NULL")
    op.alter_column("parent_departures", "notice_sent_at", nullable=False)
    op.drop_column("parent_departures", "notice_id")
    op.drop_index("ix_outbox_messages_next_attempt_at", table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_user_id", table_name="outbox_messages")
    op.drop_table("outbox_messages")
