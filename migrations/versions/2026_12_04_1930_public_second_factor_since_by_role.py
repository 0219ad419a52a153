"""public: when the second-factor policy began to cover each role (second_factor_since_by_role)

The grace period to enrol a second factor runs from when the policy began to cover a
person. One date for the whole policy meant that widening it (managers -> staff) gave the
managers, whose grace period had long ended, a fresh one. Each role now keeps its own
start, so widening starts the clock only for the roles it adds; narrowing forgets the
roles it drops (covering them again later starts afresh).

Revision ID: 3e7b9d2a5c14
Revises: 8d4b1f6e2a93
Create Date: 2026-12-04 19:30:00
"""

from alembic import op

revision = "3e7b9d2a5c14"
down_revision = "8d4b1f6e2a93"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE public.settings
            ADD COLUMN second_factor_since_by_role jsonb NOT NULL DEFAULT '{}';
        UPDATE public.settings
           SET second_factor_since_by_role = (
               SELECT coalesce(jsonb_object_agg(role, to_jsonb(second_factor_required_since)), '{}')
                 FROM unnest(CASE second_factor_required_for
                                 WHEN 'managers' THEN ARRAY['manager']
                                 WHEN 'staff' THEN ARRAY['manager', 'staff']
                                 WHEN 'everyone' THEN ARRAY['manager', 'staff', 'parent']
                                 ELSE ARRAY[]::text[]
                             END) AS role)
         WHERE second_factor_required_since IS NOT NULL;
        ALTER TABLE public.settings DROP COLUMN second_factor_required_since;
        """
    )


def downgrade() -> None:
    # One date again: the earliest, so nobody gains a grace period by the downgrade.
    op.execute(
        """
        ALTER TABLE public.settings ADD COLUMN second_factor_required_since timestamptz;
        UPDATE public.settings
           SET second_factor_required_since = (
               SELECT min((since #>> '{}')::timestamptz)
                 FROM jsonb_each(second_factor_since_by_role) AS covered(role, since));
        ALTER TABLE public.settings DROP COLUMN second_factor_since_by_role;
        """
    )
