"""Alembic environment: runs one chain of revisions in one schema, on a connection we pass.

``tenants.migrating`` opens the transaction, binds the schema with
``SET LOCAL search_path`` and hands the connection over in
``config.attributes``; the version table lives inside that schema.
Revisions labelled ``public`` build the registry; those labelled ``setting``
build each setting's schema.
"""

from alembic import context

connection = context.config.attributes.get("connection")
schema = context.config.attributes.get("schema")
if connection is None or schema is None:
    raise SystemExit(
        "Apply migrations with `flask --app wsgi tenants migrate`, which runs them in "
        "the public schema and in every setting's schema."
    )

context.configure(connection=connection, version_table_schema=schema)
with context.begin_transaction():
    context.run_migrations()
