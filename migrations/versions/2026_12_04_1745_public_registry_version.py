"""public: one row whose token changes with every change to the registry (registry_version)

Each web process keeps a snapshot of every active setting (``tenants.registry``) and
checks every couple of seconds that it is still current. Reading every setting for that
check grew with the fleet: 50 ms of CPU a reload at 10,000 settings, during which a sync
worker serves nothing. A statement-level trigger on ``settings`` gives the registry a new
token in the same transaction as any change, so the check reads one row and a process
reloads only when something changed. A random token, not a counter: a restored database
brings back an older token, which differs from what the processes hold whenever the
registry differs from the one they read.

Revision ID: 8d4b1f6e2a93
Revises: 5c8e2f4a7b16
Create Date: 2026-12-04 17:45:00
"""

from alembic import op

revision = "8d4b1f6e2a93"
down_revision = "5c8e2f4a7b16"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE public.registry_version (
            only_row boolean PRIMARY KEY DEFAULT true CONSTRAINT registry_version_one_row
                CHECK (only_row),
            token uuid NOT NULL DEFAULT gen_random_uuid()
        );
        INSERT INTO public.registry_version DEFAULT VALUES;
        CREATE FUNCTION public.registry_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE public.registry_version SET token = gen_random_uuid();
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER settings_changed
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON public.settings
            FOR EACH STATEMENT EXECUTE FUNCTION public.registry_changed();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER settings_changed ON public.settings;
        DROP FUNCTION public.registry_changed();
        DROP TABLE public.registry_version;
        """
    )
