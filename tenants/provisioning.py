"""Creating a setting: registry row, schema, tables, version stamp, first rows; all or nothing.

The schema is built straight from the models' metadata and stamped with the
head revision (about 40 ms, flat as settings accumulate), rather than by
replaying every migration; ``tests/tenants/test_provisioning.py`` proves the
result is the same catalogue as migrating up from empty.

The rows a new setting starts with (its first manager, its usage policy) belong to
features, which hand their steps to ``install_setting_seeds``: this layer runs them in
its transaction without knowing what they write. Whatever can wait for the commit (the
first manager's invitation) is the caller's to do once ``provision_setting`` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from flask import Flask, current_app
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable

from app.extensions import db
from app.validation import clean_email, clean_name
from tenants.binding import BoundSetting, bind_schema
from tenants.migrating import setting_head_revision, stamp_setting_schema, upgrade_schema
from tenants.models import Setting, SettingStatus
from tenants.registry import forget_cached
from tenants.schema import TenantModel
from tenants.slugs import schema_name_for, validate_slug


@dataclass
class NewSetting:
    """What the operator asked for, already checked, and what the steps made of it."""

    slug: str
    name: str
    schema_name: str
    manager_email: str
    manager_name: str
    setting_id: int | None = None
    manager_id: int | None = None  # set by the seed that adds the first manager

    def bound(self) -> BoundSetting:
        """The new setting as a request or job acts for it (``tenants.binding.bound_to``),
        without asking the registry again."""
        assert self.setting_id is not None, "not provisioned yet"
        return BoundSetting(self.setting_id, self.slug, self.name, self.schema_name)


ProvisioningStep = Callable[[Connection, NewSetting], None]
_SEEDS = "lj_setting_seeds"


def install_setting_seeds(app: Flask, seeds: Sequence[ProvisioningStep]) -> None:
    """The features' steps that give every new setting of ``app`` its first rows."""
    app.extensions[_SEEDS] = tuple(seeds)


def insert_registry_row(connection: Connection, new: NewSetting) -> None:
    new.setting_id = connection.execute(
        insert(Setting)
        .values(
            slug=new.slug,
            name=new.name,
            schema_name=new.schema_name,
            status=SettingStatus.ACTIVE,
        )
        .returning(Setting.id)
    ).scalar_one()


def create_schema(connection: Connection, new: NewSetting) -> None:
    build_empty_schema(connection, new.schema_name, setting_head_revision())


@cache
def _setting_tables_ddl(dialect: Dialect) -> str:
    """The DDL of every setting table, compiled once per process.

    Setting tables carry no schema name (the transaction's search_path places
    them), so the same text builds every setting: compiling it once and sending
    it in one round trip is most of what keeps provisioning fast.
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
    (what provisioning does); at an older revision (a backup made before a release is
    restored) the migrations are run up to it.
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


def seed_setting(connection: Connection, new: NewSetting) -> None:
    for seed in current_app.extensions[_SEEDS]:
        seed(connection, new)


PROVISIONING_STEPS = (
    insert_registry_row,
    create_schema,
    seed_setting,
)


def provision_setting(
    slug: str, name: str, manager_email: str, manager_name: str = "Manager"
) -> NewSetting:
    """Create a setting in one transaction; any failure leaves no schema and no row.

    Raises ``InvalidSlug`` or ``InvalidInput`` before touching the database when
    the request is malformed, and ``SettingExists`` when the slug is taken. The
    caller invites the first manager (``app.auth.first_manager``) once it returns.
    """
    new = NewSetting(
        slug=validate_slug(slug),
        name=clean_name(name, field="Setting name"),
        schema_name=schema_name_for(slug),
        manager_email=clean_email(manager_email),
        manager_name=clean_name(manager_name, field="Manager's name"),
    )
    try:
        with db.engine.begin() as connection:
            for step in PROVISIONING_STEPS:
                step(connection, new)
    except IntegrityError as error:
        raise SettingExists(f"A setting '{new.slug}' already exists.") from error
    forget_cached()
    return new


class SettingExists(ValueError):
    """The slug is already taken."""
