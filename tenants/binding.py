"""Binding the current setting's schema to each database transaction.

This is the one mechanism that chooses a schema. The current setting is held in
a context variable; every ORM transaction begins with
``SET LOCAL search_path TO "<schema>"``, which PostgreSQL forgets at COMMIT or
ROLLBACK, so a pooled connection never carries one setting's schema into the
next request. Requests bind the setting in ``tenants.routing``; the CLI and
Celery tasks use ``with tenant_context(slug):``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import psycopg
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import db


@dataclass(frozen=True)
class BoundSetting:
    """What a request or job knows about the setting it acts for."""

    id: int
    slug: str
    name: str
    schema_name: str
    logo_file: str | None = None
    time_zone: str = "Europe/London"  # how its pages show times (app.timezones)
    usage_policy_version: int = 1  # the gate compares it with what the person accepted
    # Other children's names in group observations ("shown" or "hidden"), as the registry
    # snapshot read it; None where the binding did not read it (``group_name_policy`` asks).
    group_names: str | None = None


_current: ContextVar[BoundSetting | None] = ContextVar("current_setting", default=None)


class NoSettingBound(LookupError):
    """Code that needs a setting ran outside a request of one and outside tenant_context."""


class UnknownSetting(LookupError):
    """No active setting has that slug."""


def current_setting() -> BoundSetting:
    setting = _current.get()
    if setting is None:
        raise NoSettingBound("no setting is bound to this request or job")
    return setting


def current_setting_or_none() -> BoundSetting | None:
    return _current.get()


def bind_schema(connection: Connection, schema_name: str) -> None:
    """Point this transaction (only) at ``schema_name``; PostgreSQL forgets it at its end.

    The name is always one we derived (``tenants.slugs.schema_name_for``) and is quoted.
    """
    connection.exec_driver_sql(_set_search_path(connection, schema_name))


def _set_search_path(connection: Connection, schema_name: str) -> str:
    quoted = connection.dialect.identifier_preparer.quote_identifier(schema_name)
    return f"SET LOCAL search_path TO {quoted}"


def begin_bound_to(connection: Connection, schema_name: str) -> None:
    """Begin the transaction and bind it to ``schema_name``, in one round trip.

    psycopg begins a transaction by sending its own ``BEGIN`` before the first statement
    and waiting for it. Here ``BEGIN; SET LOCAL ...`` go as one simple query (libpq's
    ``PQexec``, on the connection's own socket); psycopg then sees the transaction open
    and sends no ``BEGIN`` of its own. The binding is the same ``SET LOCAL`` inside the
    same transaction, forgotten at its end. Where psycopg would begin otherwise (the
    transaction has begun already, autocommit, an isolation level or read-only mode), or
    the combined query fails, ``bind_schema`` does it the usual way, whose errors
    SQLAlchemy reports and handles as for any statement.
    """
    raw = connection.connection.dbapi_connection
    plain = (
        isinstance(raw, psycopg.Connection)
        and not raw.autocommit
        and raw.isolation_level is None
        and raw.read_only is None
        and raw.deferrable is None
        and raw.pgconn.transaction_status == TransactionStatus.IDLE
    )
    if plain:
        command = f"BEGIN; {_set_search_path(connection, schema_name)}"
        try:
            done = raw.pgconn.exec_(command.encode()).status == ExecStatus.COMMAND_OK
        except psycopg.Error:
            done = False
        if done:
            return
    bind_schema(connection, schema_name)


@event.listens_for(Session, "after_begin")
def _bind_schema_to_transaction(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    setting = _current.get()
    if setting is not None:
        begin_bound_to(connection, setting.schema_name)


def bind(setting: BoundSetting | None) -> object:
    """Make ``setting`` current; returns a token for ``unbind``.

    Any open transaction is ended first: it was begun for another setting.
    """
    db.session.remove()
    return _current.set(setting)


def unbind(token: object) -> None:
    db.session.remove()
    _current.reset(token)  # type: ignore[arg-type]


@contextmanager
def tenant_context(slug: str) -> Iterator[BoundSetting]:
    """Run the block as the setting ``slug`` (CLI commands and Celery tasks).

    The block commits what it wants kept; anything left uncommitted is rolled
    back when it ends.
    """
    from tenants.registry import active_setting_by_slug, forget_cached

    setting = active_setting_by_slug(slug)
    if setting is None:
        # The snapshot may predate a setting another process just created (a task
        # sent right after provisioning): look once more in the registry itself.
        forget_cached()
        setting = active_setting_by_slug(slug)
    if setting is None:
        raise UnknownSetting(f"no active setting '{slug}'")
    with bound_to(setting):
        yield setting


@contextmanager
def any_status_context(slug: str) -> Iterator[BoundSetting]:
    """Like ``tenant_context``, for a setting active or suspended (the operator's export,
    deletion and replay of the erasure ledger); a deleted setting has no schema left."""
    from tenants.registry import setting_by_slug

    found = setting_by_slug(slug)
    if found is None or found.status == "deleted":
        raise UnknownSetting(f"no setting '{slug}'")
    setting = BoundSetting(
        id=found.id,
        slug=found.slug,
        name=found.name,
        schema_name=found.schema_name,
        logo_file=found.logo_file,
        time_zone=found.time_zone,
    )
    with bound_to(setting):
        yield setting


@contextmanager
def bound_to(setting: BoundSetting) -> Iterator[BoundSetting]:
    """Run the block as ``setting``, already known (a setting just provisioned)."""
    token = bind(setting)
    try:
        yield setting
    finally:
        unbind(token)
