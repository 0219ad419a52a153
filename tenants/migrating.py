"""Applying the Alembic chains: ``public`` to the registry, ``setting`` to each setting's schema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import Connection

from tenants.binding import quote_schema
from tenants.models import Setting

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
PUBLIC_HEAD = "public@head"
SETTING_HEAD = "setting@head"


def _alembic_config(connection: Connection, schema_name: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema_name
    return config


@cache
def _script_directory() -> ScriptDirectory:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


def setting_head_revision() -> str:
    """The newest revision of the ``setting`` chain."""
    head = _script_directory().get_revision(SETTING_HEAD)
    assert head is not None
    return head.revision


def bind_schema(connection: Connection, schema_name: str) -> None:
    """Point this transaction (only) at ``schema_name``."""
    connection.exec_driver_sql(f"SET LOCAL search_path TO {quote_schema(connection, schema_name)}")


def upgrade_schema(connection: Connection, schema_name: str, target: str) -> None:
    """Run the chain up to ``target`` inside ``schema_name``, in the caller's transaction."""
    bind_schema(connection, schema_name)
    command.upgrade(_alembic_config(connection, schema_name), target)


def stamp_setting_schema(connection: Connection, schema_name: str) -> None:
    """Record the setting chain's head in a schema built straight from the models."""
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema_name})
    context.stamp(_script_directory(), SETTING_HEAD)


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
            select(Setting.slug, Setting.schema_name).order_by(Setting.slug)
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
