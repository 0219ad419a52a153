"""setting: usage policy versions and acceptances, sharing rule, known browsers, email checks

Each existing setting starts with version 1 of the default usage policy, as a new one does
(``tenants.provisioning``); the text is copied here so this migration never changes.

Revision ID: 4e9d2f6a8c13
Revises: 6a8d2f4c9e15
Create Date: 2026-12-02 11:41:00
"""

import sqlalchemy as sa
from alembic import op

revision = "4e9d2f6a8c13"
down_revision = "6a8d2f4c9e15"
branch_labels = None
depends_on = None

DEFAULT_USAGE_POLICY = """\
Learning journals hold children's records and photos. By using them you agree to:

1. Choose a password you use nowhere else. A password manager can make and remember one for you.
2. Never share your password or PIN with anyone, and never write them down.
3. Sign out when you have finished, and tick "shared or public computer" when you sign in \
on a computer other people use.
4. Keep your email address up to date, so that messages about your account reach you.
5. Not share anything from the journals on social media or elsewhere online, above all \
photos or words about other children.
6. Tell the setting at once if you think someone else has used your account."""


def _moment(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str, key: str = "id") -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{key}"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("accepted_policy_version", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("users", _moment("email_confirmed_at", nullable=True))
    usage_policies = op.create_table(
        "usage_policies",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _moment("published_at"),
        sa.Column("published_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("version", name="pk_usage_policies"),
        sa.CheckConstraint("version >= 1", name="ck_usage_policies_version_positive"),
        _fk("usage_policies", "published_by_id", "users", "SET NULL"),
    )
    op.create_table(
        "usage_policy_acceptances",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _moment("accepted_at"),
        sa.PrimaryKeyConstraint("user_id", "version", name="pk_usage_policy_acceptances"),
        _fk("usage_policy_acceptances", "user_id", "users", "CASCADE"),
        _fk("usage_policy_acceptances", "version", "usage_policies", "CASCADE", key="version"),
    )
    op.create_table(
        "responsible_use_rules",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sharing_rule", sa.String(length=1000), nullable=False),
        sa.Column("email_check_months", sa.Integer(), nullable=False),
        _moment("updated_at", nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_responsible_use_rules"),
        sa.CheckConstraint("id = 1", name="ck_responsible_use_rules_one_row"),
        sa.CheckConstraint(
            "email_check_months BETWEEN 1 AND 60",
            name="ck_responsible_use_rules_email_check_months_in_range",
        ),
        _fk("responsible_use_rules", "updated_by_id", "users", "SET NULL"),
    )
    op.create_table(
        "known_browsers",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("browser", sa.String(length=120), nullable=False),
        _moment("first_seen_at"),
        sa.PrimaryKeyConstraint("user_id", "browser", name="pk_known_browsers"),
        _fk("known_browsers", "user_id", "users", "CASCADE"),
    )
    op.execute(
        usage_policies.insert().values(
            version=1, text=DEFAULT_USAGE_POLICY, published_at=sa.func.now()
        )
    )


def downgrade() -> None:
    op.drop_table("known_browsers")
    op.drop_table("responsible_use_rules")
    op.drop_table("usage_policy_acceptances")
    op.drop_table("usage_policies")
    op.drop_column("users", "email_confirmed_at")
    op.drop_column("users", "accepted_policy_version")
