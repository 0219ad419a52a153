"""Applying the Alembic chains: ``public`` to the registry, ``setting`` to each setting's schema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, Table, literal, select, text, union_all
from sqlalchemy.engine import Connection

from tenants.binding import bind_schema
from tenants.models import Setting, SettingStatus

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
PUBLIC_HEAD = "public@head"
SETTING_HEAD = "setting@head"


@cache
def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@cache
def _script_directory() -> ScriptDirectory:
    # Read once per process: migrating 1,000 schemas must not re-read every revision file
    # 1,000 times.
    return ScriptDirectory.from_config(_alembic_config())


def head_revision(chain_head: str) -> str:
    """The newest revision of a chain (``PUBLIC_HEAD`` or ``SETTING_HEAD``)."""
    head = _script_directory().get_revision(chain_head)
    assert head is not None
    return head.revision


def setting_head_revision() -> str:
    """The newest revision of the ``setting`` chain."""
    return head_revision(SETTING_HEAD)


def upgrade_schema(connection: Connection, schema_name: str, target: str) -> None:
    """Run the chain up to ``target`` inside ``schema_name``, in the caller's transaction.

    The version table lives inside the schema. This is the one place migrations are
    run from (``migrations/env.py`` only refuses to run them any other way).
    """
    bind_schema(connection, schema_name)
    script = _script_directory()

    def revisions_to_apply(current: tuple[str, ...], _context: MigrationContext) -> list:
        return script._upgrade_revs(target, current)  # what `alembic upgrade` itself does

    with EnvironmentContext(
        _alembic_config(), script, fn=revisions_to_apply, destination_rev=target
    ) as environment:
        environment.configure(connection=connection, version_table_schema=schema_name)
        with environment.begin_transaction():
            environment.run_migrations()


def stamp_setting_schema(connection: Connection, schema_name: str) -> None:
    """Record the setting chain's head in a schema built straight from the models."""
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema_name})
    context.stamp(_script_directory(), SETTING_HEAD)


def _version_table(schema_name: str) -> Table:
    return Table("alembic_version", MetaData(), Column("version_num"), schema=schema_name)


def schemas_with_table(connection: Connection, table_name: str) -> set[str]:
    """The schemas that hold a table of this name (one catalogue read)."""
    tables = Table("pg_tables", MetaData(), Column("schemaname"), Column("tablename"))
    found = connection.scalars(select(tables.c.schemaname).where(tables.c.tablename == table_name))
    return set(found)


def schema_revisions(connection: Connection, schema_names: list[str]) -> dict[str, str | None]:
    """The revision each schema's own version table records (None: never migrated).

    One query for all of them (a UNION over the version tables), read directly rather
    than through Alembic: /readyz asks about every schema on every probe, and one query
    per schema took 3.5 ms each (bench/ops.py).
    """
    present = schemas_with_table(connection, "alembic_version") & set(schema_names)
    revisions: dict[str, str | None] = dict.fromkeys(schema_names)
    if present:
        each = [
            select(literal(name).label("schema_name"), _version_table(name).c.version_num)
            for name in sorted(present)
        ]
        revisions.update(connection.execute(union_all(*each)).all())
    return revisions


def current_revision(connection: Connection, schema_name: str) -> str | None:
    """The revision recorded in ``schema_name``'s own version table (None: never migrated)."""
    return schema_revisions(connection, [schema_name])[schema_name]


def schemas_behind(engine: Engine) -> list[str]:
    """Slugs of settings (and ``public`` for the registry) not at their chain's head.

    What ``tenants migrate`` would change; new code must not serve those schemas.
    """
    with engine.connect() as connection:
        in_order = (
            select(Setting.schema_name, Setting.slug)
            .where(Setting.status != SettingStatus.DELETED)
            .order_by(Setting.slug)
        )
        settings = dict(connection.execute(in_order).all())
        revisions = schema_revisions(connection, ["public", *settings])
    heads = {"public": head_revision(PUBLIC_HEAD)}
    setting_head = setting_head_revision()
    return [
        settings.get(schema_name, "public")
        for schema_name, revision in revisions.items()
        if revision != heads.get(schema_name, setting_head)
    ]


def upgrade_public(engine: Engine) -> None:
    """Bring the registry in the public schema up to date."""
    with engine.begin() as connection:
        # One migrator at a time: two processes starting together must not both
        # create the registry.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('lj-migrate-public'))"))
        upgrade_schema(connection, "public", PUBLIC_HEAD)


@dataclass
class MigrationReport:
    upgraded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def migrate_all_settings(
    engine: Engine, progress: Callable[[str, str | None], None] = lambda slug, error: None
) -> MigrationReport:
    """Upgrade every setting's schema, one transaction each; a failure does not stop the rest."""
    with engine.connect() as connection:
        settings = connection.execute(
            select(Setting.slug, Setting.schema_name)
            .where(Setting.status != SettingStatus.DELETED)
            .order_by(Setting.slug)
        ).all()
    report = MigrationReport()
    for slug, schema_name in settings:
        try:
            with engine.begin() as connection:
                upgrade_schema(connection, schema_name, SETTING_HEAD)
        except Exception as error:
            report.failed[slug] = f"{type(error).__name__}: {error}"
            progress(slug, report.failed[slug])
        else:
            report.upgraded.append(slug)
            progress(slug, None)
    return report
