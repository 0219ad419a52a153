"""Creating a setting: registry row, schema, tables, version stamp, first rows; all or nothing.

The schema is a spare one built ahead of time, renamed into place (``tenants.spares``:
the DDL, about 100 ms, is paid by the job that refills the pool, which provisioning
asks for once it has committed); when none is ready it is built here the same way
(``tenants.building``). ``tests/tenants/test_provisioning.py`` proves either is the
same catalogue as migrating up from empty.

The rows a new setting starts with (its first manager, its usage policy) belong to
features, which hand their steps to ``install_setting_seeds``: this layer runs them in
its transaction without knowing what they write. Whatever can wait for the commit (the
first manager's invitation) is the caller's to do once ``provision_setting`` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.validation import clean_email, clean_name
from tenants.binding import BoundSetting
from tenants.building import build_empty_schema
from tenants.migrating import setting_head_revision
from tenants.models import Setting, SettingStatus
from tenants.registry import forget_cached
from tenants.slugs import schema_name_for, validate_slug
from tenants.spares import send_refill, take_spare


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
    """Rename a spare schema into place (``tenants.spares``); build one when none is ready."""
    if not take_spare(connection, new.schema_name):
        build_empty_schema(connection, new.schema_name, setting_head_revision())


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
    send_refill()
    return new


class SettingExists(ValueError):
    """The slug is already taken."""
