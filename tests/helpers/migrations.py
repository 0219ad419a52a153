"""A setting's schema taken back to an older revision of the ``setting`` chain, its rows kept:
what a setting created before a release looks like, for tests of migrating it up (``tenants
migrate``, a restore of an older backup). Production never downgrades."""

from __future__ import annotations

from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from tenants.binding import bind_schema
from tenants.migrating import _script_directory
from tenants.models import Setting


def downgrade_setting(app: Flask, slug: str, revision: str) -> str:
    """Run the chain's own downgrades in setting ``slug``'s schema down to ``revision``, in
    one transaction; returns the schema's name."""
    with app.app_context():
        schema_name = db.session.scalars(
            select(Setting.schema_name).where(Setting.slug == slug)
        ).one()
        db.session.rollback()
        with db.engine.begin() as connection:
            bind_schema(connection, schema_name)
            script = _script_directory()

            def steps(current: tuple[str, ...], _context: MigrationContext) -> list:
                return script._downgrade_revs(revision, current)  # as `alembic downgrade` does

            options = {"version_table_schema": schema_name, "fn": steps, "script": script}
            context = MigrationContext.configure(connection, opts=options)
            with Operations.context(context):
                context.run_migrations()
    return schema_name
