"""Alembic environment: migrations run only through ``tenants.migrating``.

That module opens the transaction, binds each schema with ``SET LOCAL
search_path``, keeps the version table inside the schema and applies the
``public`` chain to the registry and the ``setting`` chain to every setting.
Running ``alembic upgrade`` directly would know none of that, so it is refused.
"""

raise SystemExit(
    "Apply migrations with `flask --app wsgi tenants migrate`, which runs them in "
    "the public schema and in every setting's schema."
)
