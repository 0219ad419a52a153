"""Applying the Alembic chains: ``public`` to the registry, ``setting`` to each setting's schema."""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError as AlembicError
from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.schema import CreateTable

from tenants.binding import begin_bound_to, bind_schema
from tenants.models import Setting, SettingStatus
from tenants.slugs import SPARE_SCHEMA_PREFIX

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
    return _head_of(_script_directory(), chain_head)


@cache
def _head_of(script: ScriptDirectory, chain_head: str) -> str:
    # Resolving a branch's head walks the revision map: once per reading of the scripts,
    # not once per schema migrated.
    head = script.get_revision(chain_head)
    assert head is not None
    return head.revision


def is_known_revision(revision: str) -> bool:
    """Whether this release's migrations hold ``revision`` (a backup made by a newer
    release names one they do not)."""
    try:
        return _script_directory().get_revision(revision) is not None
    except AlembicError:
        return False


def setting_head_revision() -> str:
    """The newest revision of the ``setting`` chain."""
    return head_revision(SETTING_HEAD)


def upgrade_schema(connection: Connection, schema_name: str, target: str) -> None:
    """Run the chain up to ``target`` inside ``schema_name``, in the caller's transaction.

    The version table lives inside the schema. This is the one place migrations are
    run from (``migrations/env.py`` only refuses to run them any other way). Alembic's
    migration context is used directly, without an ``EnvironmentContext``: nothing of
    ``env.py`` is needed, and a fleet pays for each schema only what its migration does.
    """
    bind_schema(connection, schema_name)
    script = _script_directory()

    def revisions_to_apply(current: tuple[str, ...], _context: MigrationContext) -> list:
        return script._upgrade_revs(target, current)  # what `alembic upgrade` itself does

    context = MigrationContext.configure(
        connection,
        opts={"version_table_schema": schema_name, "fn": revisions_to_apply, "script": script},
    )
    with Operations.context(context):  # what the revision scripts' `op` acts on
        context.run_migrations()


# Alembic's version table as `alembic stamp` creates it (tests/tenants/test_provisioning.py
# compares a provisioned schema's catalogue with a migrated one's); upgrades move its row.
_VERSION_TABLE = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


@cache
def _stamp_sql(dialect: Dialect, revision: str) -> str:
    create = CreateTable(_VERSION_TABLE).compile(dialect=dialect)
    record = insert(_VERSION_TABLE).values(version_num=revision)
    return f"{create};\n{record.compile(dialect=dialect, compile_kwargs={'literal_binds': True})}"


def stamp_setting_schema(connection: Connection) -> None:
    """Record the setting chain's head in the transaction's schema, built straight from the
    models: one round trip, rather than Alembic's reflection, create and insert."""
    connection.exec_driver_sql(_stamp_sql(connection.dialect, setting_head_revision()))


class RevisionMoved(RuntimeError):
    """The schema's version table no longer holds the revision read before its upgrade."""


@cache
def _setting_steps_from(script: ScriptDirectory, revision: str) -> tuple[RevisionStep, ...]:
    """The setting chain's upgrade steps from ``revision`` to its head, worked out once per
    process (and per reading of the scripts) for every schema that is at ``revision``.
    An unknown revision raises here, so that schema fails and the others go on."""
    return tuple(script._upgrade_revs(SETTING_HEAD, (revision,)))  # as `alembic upgrade` does


def upgrade_setting_schema(connection: Connection, schema_name: str, revision: str) -> None:
    """Upgrade one setting's schema, known to be at ``revision``, to the chain's head, in
    the caller's transaction.

    What ``upgrade_schema`` does for a fleet, without what it repeats per schema: the
    revision was read for every schema at once (``read_revisions``), so no version-table
    reflection or read here, and the path to the head is worked out once per revision.
    The steps run as Alembic runs them (their ``op`` acts on this connection); the version
    table moves once, from ``revision`` to the head, and a schema another migrator moved
    meanwhile is refused (``RevisionMoved``) rather than upgraded twice.
    """
    script = _script_directory()
    steps = _setting_steps_from(script, revision)
    begin_bound_to(connection, schema_name)  # BEGIN and the schema in one round trip
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema_name})
    with Operations.context(context):
        for step in steps:
            step.migration_fn()
    head = setting_head_revision()
    moved = connection.execute(
        update(_VERSION_TABLE)
        .where(_VERSION_TABLE.c.version_num == revision)
        .values(version_num=head)
    )
    if moved.rowcount != 1:
        raise RevisionMoved(f"{schema_name} is no longer at {revision}")


def schemas_with_table(connection: Connection, table_name: str) -> set[str]:
    """The schemas that hold a table of this name (one catalogue read); spare schemas
    (``tenants.spares``) hold every setting table but are not settings: left out."""
    tables = Table("pg_tables", MetaData(), Column("schemaname"), Column("tablename"))
    found = connection.scalars(
        select(tables.c.schemaname).where(
            tables.c.tablename == table_name,
            ~tables.c.schemaname.startswith(SPARE_SCHEMA_PREFIX, autoescape=True),
        )
    )
    return set(found)


REVISIONS_PER_QUERY = 100
"""Version tables read by one query. PostgreSQL's cost per table of a ``UNION ALL`` grows
with its length (measured, warm: 0.05 ms a table in a union of 100, 0.2 ms of 200, 0.45 ms
of 1,000), so 1,000 schemas are read faster as ten queries than as one."""


def schema_revisions(connection: Connection, schema_names: list[str]) -> dict[str, str | None]:
    """The revision each schema's own version table records (None: never migrated).

    A query for every ``REVISIONS_PER_QUERY`` schemas (a UNION over their version
    tables), read directly rather than through Alembic: /readyz asks about every schema
    on every probe, and one query per schema took 3.5 ms each (bench/ops.py).
    """
    present = sorted(schemas_with_table(connection, "alembic_version") & set(schema_names))
    revisions: dict[str, str | None] = dict.fromkeys(schema_names)
    for start in range(0, len(present), REVISIONS_PER_QUERY):
        batch = present[start : start + REVISIONS_PER_QUERY]
        revisions.update(connection.exec_driver_sql(_revisions_query(connection, batch)).all())
    return revisions


def _revisions_query(connection: Connection, schema_names: list[str]) -> str:
    """Every version table's row beside its schema's name.

    Written as text with each name quoted by the dialect (the table's as an identifier, as
    ``bind_schema`` does, and beside it as a string literal), not built from a SQLAlchemy
    table per schema: building and compiling 1,000 of those took 3 s of Python on a busy
    machine, longer than PostgreSQL took to read them. The name is not looked up in
    ``pg_class`` from each row's ``tableoid``: joined, the planner hashed the whole of
    ``pg_class`` (1.4 million rows at 10,000 settings: 730 ms a query of 100 tables);
    looked up row by row, the subquery's estimated cost switched on PostgreSQL's JIT
    (1 s of compiling a query that runs in milliseconds).
    """
    quote = connection.dialect.identifier_preparer.quote_identifier
    as_literal = String().literal_processor(connection.dialect)
    assert as_literal is not None
    return " UNION ALL ".join(
        f"SELECT {as_literal(name)}, version_num FROM {quote(name)}.alembic_version"  # noqa: S608 (quoted)
        for name in schema_names
    )


def current_revision(connection: Connection, schema_name: str) -> str | None:
    """The revision recorded in ``schema_name``'s own version table (None: never migrated)."""
    return schema_revisions(connection, [schema_name])[schema_name]


class SchemaBehind(RuntimeError):
    """A schema not at the revision the code's models describe: read by them, it fails on
    what it does not have yet (a column, a table)."""

    def __init__(self, schema_name: str, revision: str | None, head: str) -> None:
        super().__init__(f"{schema_name} is at revision {revision or 'none'}, not {head}")
        self.schema_name, self.revision, self.head = schema_name, revision, head


def check_up_to_date(connection: Connection, schema_name: str) -> None:
    """Raise ``SchemaBehind`` unless the registry and ``schema_name`` are at their heads."""
    heads = {"public": head_revision(PUBLIC_HEAD), schema_name: setting_head_revision()}
    for name, revision in schema_revisions(connection, list(heads)).items():
        if revision != heads[name]:
            raise SchemaBehind(name, revision, heads[name])


@dataclass(frozen=True)
class SettingRevision:
    """A setting's schema and the revision its version table records."""

    slug: str
    schema_name: str
    status: SettingStatus
    revision: str | None  # None: never migrated


@dataclass(frozen=True)
class FleetRevisions:
    """The registry's revision and every setting's, read in one pass."""

    public: str | None
    settings: list[SettingRevision]
    public_head: str
    setting_head: str

    def settings_behind(self) -> list[SettingRevision]:
        return [setting for setting in self.settings if setting.revision != self.setting_head]


def read_revisions(engine: Engine) -> FleetRevisions:
    """Every setting's revision (deleted ones have no schema left) and the registry's.

    Two queries whatever the number of settings: the registry, then every version table
    at once (``schema_revisions``). No Alembic context is built for a schema that is
    already at the head.
    """
    with engine.connect() as connection:
        in_order = (
            select(Setting.slug, Setting.schema_name, Setting.status)
            .where(Setting.status != SettingStatus.DELETED)
            .order_by(Setting.slug)
        )
        rows = connection.execute(in_order).all()
        revisions = schema_revisions(connection, ["public", *(row.schema_name for row in rows)])
    return FleetRevisions(
        public=revisions["public"],
        settings=[
            SettingRevision(row.slug, row.schema_name, row.status, revisions[row.schema_name])
            for row in rows
        ],
        public_head=head_revision(PUBLIC_HEAD),
        setting_head=setting_head_revision(),
    )


def schemas_behind(engine: Engine) -> list[str]:
    """Slugs of settings (and ``public`` for the registry) not at their chain's head.

    What ``tenants migrate`` would change; new code must not serve those schemas.
    """
    fleet = read_revisions(engine)
    public = [] if fleet.public == fleet.public_head else ["public"]
    return public + [setting.slug for setting in fleet.settings_behind()]


def upgrade_public(engine: Engine) -> None:
    """Bring the registry in the public schema up to date."""
    with engine.begin() as connection:
        # One migrator at a time: two processes starting together must not both
        # create the registry.
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('lj-migrate-public'))"))
        upgrade_schema(connection, "public", PUBLIC_HEAD)


MIGRATION_CONNECTIONS = 4
"""Schemas migrated at once by default. Most of a schema's migration is PostgreSQL's
work (catalogue changes, the commit's WAL flush), so a few connections keep both cores
busy; more only queue behind each other's locks on the catalogue."""


@dataclass
class MigrationReport:
    upgraded: list[str] = field(default_factory=list)
    already_current: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def up_to_date(self) -> int:
        return len(self.upgraded) + len(self.already_current)


def migrate_all_settings(
    engine: Engine,
    progress: Callable[[str, str | None], None] = lambda slug, error: None,
    connections: int = MIGRATION_CONNECTIONS,
) -> MigrationReport:
    """Upgrade every setting's schema that is behind the head.

    Each schema is its own transaction; up to ``connections`` run at once. A failure
    rolls back that schema only and is reported; the others go on. ``progress`` hears
    of every setting (error None: it is up to date).
    """
    report = MigrationReport()
    fleet = read_revisions(engine)
    behind = fleet.settings_behind()
    for setting in fleet.settings:
        if setting.revision == fleet.setting_head:
            report.already_current.append(setting.slug)
            progress(setting.slug, None)
    for slug, error in _upgrade_settings(engine, behind, connections):
        if error is None:
            report.upgraded.append(slug)
        else:
            report.failed[slug] = error
        progress(slug, error)
    return report


def _upgrade_settings(
    engine: Engine, settings: list[SettingRevision], connections: int
) -> Iterator[tuple[str, str | None]]:
    """Each setting's slug and its error (None: upgraded), in the order given.

    In parallel, each in a process of its own (forked, so the revisions already read
    come along): Alembic's ``op`` acts on one migration context per process, so threads
    would run one schema's operations in another's.
    """
    slugs = [setting.slug for setting in settings]
    known = [(setting.schema_name, setting.revision) for setting in settings]
    if connections <= 1 or len(settings) <= 1:
        errors = (_upgrade_setting(engine, schema) for schema in known)
        yield from zip(slugs, errors, strict=True)
        return
    with ProcessPoolExecutor(
        max_workers=min(connections, len(settings)),
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_migration_process,
        initargs=(engine,),
    ) as pool:
        errors = pool.map(_upgrade_in_migration_process, known, chunksize=8)
        yield from zip(slugs, errors, strict=True)


def _upgrade_setting(engine: Engine, schema: tuple[str, str | None]) -> str | None:
    """Upgrade one schema, at the revision given, in its own transaction; the error, or
    None when it worked."""
    schema_name, revision = schema
    try:
        with engine.begin() as connection:
            if revision is None:  # never migrated: Alembic creates its version table
                upgrade_schema(connection, schema_name, SETTING_HEAD)
            else:
                upgrade_setting_schema(connection, schema_name, revision)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


_process_engine: Engine | None = None


def _start_migration_process(engine: Engine) -> None:
    """In a forked migration process: connections of its own, closed when it ends."""
    global _process_engine
    engine.dispose(close=False)  # the parent's pooled connections stay the parent's
    multiprocessing.util.Finalize(engine, engine.dispose, exitpriority=10)
    _process_engine = engine


def _upgrade_in_migration_process(schema: tuple[str, str | None]) -> str | None:
    assert _process_engine is not None
    return _upgrade_setting(_process_engine, schema)
