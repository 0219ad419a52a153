"""setting: a tag row carries its observation's date, status and kind, kept by the foreign key

A child's journal page was picked by joining the child's tag rows with every observation of
the setting (status, date), then a window count and a sort: PostgreSQL's largest cost of
the page, and one that grew with the setting's observations, not the child's. The tag row
now copies the observation's ``observed_on``, ``status`` and ``kind``; the foreign key to
the observation covers them and cascades their updates, so the copy cannot differ from
the observation; and ``ix_observation_children_journal`` (the child, newest first, status
and kind included) makes a page one index range. It also serves what
``ix_observation_children_child_id`` served (a child's tags), which is dropped.

Revision ID: 7d41c2e9b3f6
Revises: 3e7b9d2c5a81
Create Date: 2026-12-04 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "7d41c2e9b3f6"
down_revision = "3e7b9d2c5a81"
branch_labels = None
depends_on = None

KEY = ("observed_on", "status", "kind")
FOREIGN_KEY = "fk_observation_children_observation_id_observations"


def _check(column: str, name: str, values: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{value}'" for value in values)
    op.create_check_constraint(
        f"ck_observation_children_{name}", "observation_children", f"{column} IN ({listed})"
    )


def upgrade() -> None:
    op.create_unique_constraint("uq_observations_journal_key", "observations", ["id", *KEY])
    op.add_column("observation_children", sa.Column("observed_on", sa.Date()))
    op.add_column("observation_children", sa.Column("status", sa.String(20)))
    op.add_column("observation_children", sa.Column("kind", sa.String(20)))
    op.execute(
        "UPDATE observation_children AS tag "
        "SET observed_on = o.observed_on, status = o.status, kind = o.kind "
        "FROM observations AS o WHERE o.id = tag.observation_id"
    )
    for column in KEY:
        op.alter_column("observation_children", column, nullable=False)
    _check("status", "observation_status", ("draft", "in_review", "published", "declined"))
    _check("kind", "observation_kind", ("staff", "home"))
    op.drop_constraint(FOREIGN_KEY, "observation_children", type_="foreignkey")
    op.create_foreign_key(
        FOREIGN_KEY,
        "observation_children",
        "observations",
        ["observation_id", *KEY],
        ["id", *KEY],
        ondelete="CASCADE",
        onupdate="CASCADE",
    )
    op.drop_index("ix_observation_children_child_id", table_name="observation_children")
    op.create_index(
        "ix_observation_children_journal",
        "observation_children",
        ["child_id", sa.text("observed_on DESC"), sa.text("observation_id DESC")],
        postgresql_include=["status", "kind"],
    )


def downgrade() -> None:
    op.drop_index("ix_observation_children_journal", table_name="observation_children")
    op.create_index("ix_observation_children_child_id", "observation_children", ["child_id"])
    op.drop_constraint(FOREIGN_KEY, "observation_children", type_="foreignkey")
    op.create_foreign_key(
        FOREIGN_KEY,
        "observation_children",
        "observations",
        ["observation_id"],
        ["id"],
        ondelete="CASCADE",
    )
    for column in reversed(KEY):
        op.drop_column("observation_children", column)
    op.drop_constraint("uq_observations_journal_key", "observations", type_="unique")
