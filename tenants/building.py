"""Building a setting's schema, empty: what provisioning, the pool of spares and a restore share.

At the head of the ``setting`` chain the schema is built straight from the models'
metadata and stamped with the head revision, rather than by replaying every migration;
``tests/tenants/test_provisioning.py`` proves the result is the same catalogue as
migrating up from empty. At an older revision (a backup made before a release is
restored) the migrations are run up to it.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable

from tenants.binding import bind_schema
from tenants.migrating import setting_head_revision, stamp_setting_schema, upgrade_schema
from tenants.schema import TenantModel


@cache
def _setting_tables_ddl(dialect: Dialect) -> str:
    """The DDL of every setting table, compiled once per process.

    Setting tables carry no schema name (the transaction's search_path places
    them), so the same text builds every setting: compiling it once and sending
    it in one round trip is most of what keeps building a schema fast.
    """
    statements = []
    for table in TenantModel.metadata.sorted_tables:
        statements.append(str(CreateTable(table).compile(dialect=dialect)))
        statements.extend(
            str(CreateIndex(index).compile(dialect=dialect))
            for index in sorted(table.indexes, key=lambda index: str(index.name))
        )
    return ";\n".join(statements)


def build_empty_schema(connection: Connection, schema_name: str, revision: str) -> None:
    """Create ``schema_name`` with every table of a setting at ``revision`` of the
    ``setting`` chain, and no rows; the transaction is left bound to it.

    At the head the tables are built straight from the models and the version stamped
    (what provisioning and the pool of spares do); at an older revision (a backup made
    before a release is restored) the migrations are run up to it.
    """
    connection.execute(CreateSchema(schema_name))
    if revision == setting_head_revision():
        bind_schema(connection, schema_name)
        connection.exec_driver_sql(_setting_tables_ddl(connection.dialect))
        stamp_setting_schema(connection)
    else:
        upgrade_schema(connection, schema_name, revision)
        # Some migrations write rows (a setting's first usage policy): empty them all.
        _empty_tables(connection, schema_name)


def _empty_tables(connection: Connection, schema_name: str) -> None:
    """Remove every row of ``schema_name``'s tables but its version table's."""
    quote = connection.dialect.identifier_preparer.quote_identifier
    tables = connection.scalars(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = :schema "
            "AND tablename <> 'alembic_version'"
        ),
        {"schema": schema_name},
    )
    names = ", ".join(f"{quote(schema_name)}.{quote(table)}" for table in tables)
    if names:
        connection.exec_driver_sql(f"TRUNCATE {names}")
