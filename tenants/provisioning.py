"""Creating a setting: registry row, schema, tables, version stamp, first manager; all or nothing.

The schema is built straight from the models' metadata and stamped with the
head revision (about 40 ms, flat as settings accumulate), rather than by
replaying every migration; ``tests/tenants/test_provisioning.py`` proves the
result is the same catalogue as migrating up from empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable

from app import clock
from app.auth.models import AccountStatus, Role, User
from app.extensions import db
from app.responsible_use.models import UsagePolicy
from app.responsible_use.texts import DEFAULT_USAGE_POLICY
from app.validation import clean_email, clean_name
from tenants.binding import bind_schema, tenant_context
from tenants.migrating import stamp_setting_schema
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
    manager_id: int | None = None


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
    connection.execute(CreateSchema(new.schema_name))
    bind_schema(connection, new.schema_name)


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


def create_tables(connection: Connection, new: NewSetting) -> None:
    connection.exec_driver_sql(_setting_tables_ddl(connection.dialect))


def stamp_version(connection: Connection, new: NewSetting) -> None:
    stamp_setting_schema(connection, new.schema_name)


def prepare_first_manager(connection: Connection, new: NewSetting) -> None:
    new.manager_id = connection.execute(
        insert(User)
        .values(
            email=new.manager_email,
            full_name=new.manager_name,
            role=Role.MANAGER,
            status=AccountStatus.INVITED,
        )
        .returning(User.id)
    ).scalar_one()


def publish_default_usage_policy(connection: Connection, new: NewSetting) -> None:
    """Version 1 of the setting's usage policy: ours, until the manager writes their own."""
    connection.execute(
        insert(UsagePolicy).values(version=1, text=DEFAULT_USAGE_POLICY, published_at=clock.now())
    )


PROVISIONING_STEPS = (
    insert_registry_row,
    create_schema,
    create_tables,
    stamp_version,
    prepare_first_manager,
    publish_default_usage_policy,
)


def provision_setting(
    slug: str, name: str, manager_email: str, manager_name: str = "Manager"
) -> NewSetting:
    """Create a setting in one transaction; any failure leaves no schema and no row.

    Raises ``InvalidSlug`` or ``InvalidInput`` before touching the database when
    the request is malformed, and ``SettingExists`` when the slug is taken.
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
    _invite_first_manager(new)
    return new


def _invite_first_manager(new: NewSetting) -> None:
    """Email the first manager's activation link, once the setting surely exists."""
    from app.auth.operations import send_invitation

    with tenant_context(new.slug):
        send_invitation(db.session.get_one(User, new.manager_id), by=None)
        db.session.commit()


class SettingExists(ValueError):
    """The slug is already taken."""
