"""The pool of spare schemas: settings' schemas built ahead of time, so provisioning renames one.

Building a setting's schema is PostgreSQL's work (27 tables, 31 indexes, 42 foreign keys,
17 sequences: about 100 ms here, most of what provisioning cost), and it cannot get
cheaper without fewer tables. So it leaves the request path: the ``spare-schemas`` job
builds empty schemas ahead of time ("spares", named ``spare_<hex>``) and records each in
``public.spare_schemas`` with the ``setting`` revision it was built at; provisioning takes
one and renames it to the new setting's schema (``ALTER SCHEMA ... RENAME TO``: one
catalogue row). The DDL's cost is moved, not gone: the job pays it, off the request path.

Renaming leaves nothing of the spare's name behind: tables, indexes, constraints,
sequences and the columns' defaults (``nextval('users_id_seq'::regclass)`` holds an OID)
refer to each other by OID, and the DDL names no schema (``tenants.building``).
``tests/tenants/test_spares.py`` compares a setting made from a spare with one built
fresh, catalogue row by catalogue row.

The rules, each in one function below:

- ``take_spare``: in provisioning's own transaction, with ``SELECT ... FOR UPDATE SKIP
  LOCKED``, so two provisionings never take the same spare and neither waits for the
  other; a provisioning that fails rolls the rename back and the spare is ready again.
  Only a spare at the running code's head of the ``setting`` chain is taken, and only
  one whose schema exists. None ready: provisioning builds the schema itself, as before.
- ``drop_unusable_spares``: a spare at another revision (built before a release, or by
  the other code's worker while a release rolls out), or whose schema is gone (a restored
  database: backups leave spares out), is dropped rather than migrated: an empty schema
  is as cheap to build again. ``tenants migrate`` and every refill do it.
- ``refill_spare_schemas`` (the job; beat sends it every minute, and provisioning after
  each commit): keeps ``SPARE_SCHEMAS`` ready (0: none), each built in a transaction of
  its own, and drops any beyond that.

Spares are not settings: what walks settings walks the registry (``public.settings``),
which has no row for them; backups leave them out (``app.backups.making``); the one
listing of schemas by their tables (``tenants.migrating.schemas_with_table``) skips them.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ColumnElement, Engine, delete, func, insert, select
from sqlalchemy.engine import Connection

from app.extensions import db
from tenants.binding import bind_schema
from tenants.building import build_empty_schema
from tenants.migrating import setting_head_revision
from tenants.models import SpareSchema
from tenants.slugs import SPARE_SCHEMA_PREFIX
from workers.jobs import send_job

log = logging.getLogger(__name__)

REFILL_JOB = "spare-schemas"


def _schema_exists() -> ColumnElement[bool]:
    return func.to_regnamespace(SpareSchema.schema_name).is_not(None)


def _ready() -> ColumnElement[bool]:
    """A spare that may be taken: built at the code's head, its schema still there."""
    return (SpareSchema.revision == setting_head_revision()) & _schema_exists()


def take_spare(connection: Connection, schema_name: str) -> bool:
    """Rename a ready spare to ``schema_name`` in the caller's transaction, which is left
    bound to it; False when no spare is ready (none, or all being taken right now)."""
    spare = connection.execute(
        select(SpareSchema.schema_name)
        .where(_ready())
        .order_by(SpareSchema.built_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if spare is None:
        return False
    connection.execute(delete(SpareSchema).where(SpareSchema.schema_name == spare))
    quote = connection.dialect.identifier_preparer.quote_identifier
    connection.exec_driver_sql(f"ALTER SCHEMA {quote(spare)} RENAME TO {quote(schema_name)}")
    bind_schema(connection, schema_name)
    return True


def ready_spares(connection: Connection) -> int:
    """How many spares provisioning may take now."""
    return connection.execute(select(func.count()).where(_ready())).scalar_one()


def build_spare(engine: Engine) -> str:
    """Build one spare at the head and record it, in a transaction of its own; its name."""
    name = f"{SPARE_SCHEMA_PREFIX}{secrets.token_hex(6)}"
    revision = setting_head_revision()
    with engine.begin() as connection:
        build_empty_schema(connection, name, revision)
        connection.execute(insert(SpareSchema).values(schema_name=name, revision=revision))
    return name


def drop_unusable_spares(engine: Engine, keep: int | None = None) -> int:
    """Drop the spares that will never be taken (another revision; schema gone) and, with
    ``keep``, the ready ones beyond the first ``keep``; returns how many were dropped.

    One transaction a spare (a schema's drop locks each of its tables), each spare locked
    first as ``take_spare`` locks it: one being taken right now is left alone.
    """
    with engine.connect() as connection:
        spares = connection.execute(
            select(SpareSchema.schema_name, _ready().label("ready")).order_by(SpareSchema.built_at)
        ).all()
    ready = [spare.schema_name for spare in spares if spare.ready]
    doomed = [spare.schema_name for spare in spares if not spare.ready]
    if keep is not None:
        doomed += ready[keep:]
    return sum(_drop_spare(engine, name) for name in doomed)


def _drop_spare(engine: Engine, schema_name: str) -> bool:
    with engine.begin() as connection:
        locked = connection.execute(
            select(SpareSchema.schema_name)
            .where(SpareSchema.schema_name == schema_name)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if locked is None:  # taken (or dropped) meanwhile
            return False
        quote = connection.dialect.identifier_preparer.quote_identifier
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote(schema_name)} CASCADE")
        connection.execute(delete(SpareSchema).where(SpareSchema.schema_name == schema_name))
    return True


@dataclass(frozen=True)
class Refill:
    """What a refill did."""

    built: int
    dropped: int
    ready: int
    wanted: int

    def __str__(self) -> str:
        return (
            f"{self.built} spare schemas built, {self.dropped} dropped: "
            f"{self.ready} ready (SPARE_SCHEMAS {self.wanted})"
        )


def refill(engine: Engine, wanted: int) -> Refill:
    """Drop what will never be taken, then build spares until ``wanted`` are ready.

    Counted again after each spare: a provisioning that takes one meanwhile has its own
    refill skipped (this run holds the job's lock), so this run builds its spare too.
    """
    dropped = drop_unusable_spares(engine, keep=wanted)
    built = 0
    while (ready := _count_ready(engine)) < wanted:
        build_spare(engine)
        built += 1
    return Refill(built=built, dropped=dropped, ready=ready, wanted=wanted)


def _count_ready(engine: Engine) -> int:
    with engine.connect() as connection:
        return ready_spares(connection)


def refill_spare_schemas() -> str:
    """The ``spare-schemas`` job: keep ``SPARE_SCHEMAS`` spares ready."""
    return str(refill(db.engine, current_app.config["LJ"].SPARE_SCHEMAS))


def send_refill() -> None:
    """Ask a worker to top the pool up (a provisioning has just taken a spare).

    Never raises: the setting is made already, and a broker that is down loses only
    this request; beat sends the job every minute anyway.
    """
    if current_app.config["LJ"].SPARE_SCHEMAS <= 0:
        return
    try:
        send_job(REFILL_JOB)
    except Exception:
        log.warning("could not send the %s job; beat will send it", REFILL_JOB, exc_info=True)
