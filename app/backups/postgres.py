"""What backups need from PostgreSQL: its client tools, its lock table, snapshots and counts.

- ``pg_tool(name, major)`` finds ``pg_dump``/``pg_restore`` of the
  server's major version (Debian's ``/usr/lib/postgresql/<major>/bin``, or the
  binaries inside the ``pgserver`` wheel that runs the embedded server), or a
  newer one: ``pg_dump`` refuses servers newer than itself.
- ``check_lock_capacity`` refuses, with what to change, a server whose shared
  lock table cannot hold a lock on every table (``pg_dump`` takes one on each).
- ``exported_snapshot``: one snapshot that ``pg_dump`` and the manifest's
  registry rows both read.
- ``row_counts``: rows per table of many schemas (a verification's check).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

LOCK_HEADROOM = 1.25  # other sessions hold locks too while the dump runs


class BackupRefused(RuntimeError):
    """A backup, verification or restore cannot go ahead; the message says why."""


def libpq_url(database_url: str, database: str | None = None) -> str:
    """DATABASE_URL as libpq (pg_dump, pg_restore, psycopg) reads, optionally another database."""
    url = make_url(database_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return url.render_as_string(hide_password=False)


def server_major(connection: psycopg.Connection) -> int:
    return int(connection.execute("SHOW server_version_num").fetchone()[0]) // 10000


def _tool_major(path: Path) -> int | None:
    try:
        output = subprocess.run(  # noqa: S603 - a PostgreSQL tool we found, no shell
            [str(path), "--version"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\) (\d+)", output)
    return int(found.group(1)) if found else None


def _candidate_tools(name: str, major: int) -> Iterator[Path]:
    yield Path(f"/usr/lib/postgresql/{major}/bin/{name}")
    try:
        with warnings.catch_warnings():  # its lock file does without XDG_RUNTIME_DIR
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        pass
    else:
        yield POSTGRES_BIN_PATH / name
    yield from sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    on_path = shutil.which(name)
    if on_path:
        yield Path(on_path)


@cache
def pg_tool(name: str, major: int) -> Path:
    """The ``name`` client tool of major version ``major``, else the nearest newer one."""
    found = {
        path: version
        for path in _candidate_tools(name, major)
        if path.is_file() and (version := _tool_major(path)) is not None and version >= major
    }
    if not found:
        raise BackupRefused(
            f"no {name} of PostgreSQL {major} or newer was found (looked in "
            f"/usr/lib/postgresql/*/bin, the pgserver package and PATH): install the "
            f"PostgreSQL {major} client tools"
        )
    return min(found, key=lambda path: found[path])


def _count(connection: psycopg.Connection, query: str) -> int:
    return int(connection.execute(query).fetchone()[0])


def lock_capacity_problem(tables: int, per_transaction: int, slots: int) -> str | None:
    """What to change when a lock table of ``per_transaction`` x ``slots`` locks cannot
    hold one lock on each of ``tables`` tables (with room for the other sessions)."""
    if tables * LOCK_HEADROOM <= per_transaction * slots:
        return None
    needed = 64 * math.ceil(tables * LOCK_HEADROOM / slots / 64)
    return (
        f"PostgreSQL's lock table is too small to back up {tables} tables: pg_dump takes a "
        f"lock on each, and max_locks_per_transaction = {per_transaction} with {slots} "
        f"connections holds about {per_transaction * slots}. Set max_locks_per_transaction "
        f"to at least {needed} (ALTER SYSTEM SET max_locks_per_transaction = {needed}; then "
        "restart PostgreSQL) and run the backup again."
    )


def check_lock_capacity(connection: psycopg.Connection) -> None:
    """Refuse a dump the server's lock table cannot hold, naming the setting to raise.

    PostgreSQL's shared lock table has room for ``max_locks_per_transaction *
    (max_connections + max_prepared_transactions)`` locks, and ``pg_dump`` holds
    one on every table until it ends: with 1,000 settings (15,000 tables) the
    default 64 is far too few and ``pg_dump`` fails midway with "out of shared
    memory".
    """
    tables = _count(
        connection,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname NOT LIKE 'pg_toast%'",
    )
    slots = _count(connection, "SHOW max_connections") + _count(
        connection, "SHOW max_prepared_transactions"
    )
    problem = lock_capacity_problem(
        tables, _count(connection, "SHOW max_locks_per_transaction"), slots
    )
    if problem:
        raise BackupRefused(problem)


@dataclass
class Snapshot:
    """An exported snapshot, open for as long as the ``exported`` block runs."""

    connection: psycopg.Connection
    id: str


@contextmanager
def exported_snapshot(url: str) -> Iterator[Snapshot]:
    """A repeatable-read transaction whose snapshot others import (``pg_dump --snapshot``)."""
    with psycopg.connect(url) as connection:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot_id = connection.execute("SELECT pg_export_snapshot()").fetchone()[0]
        yield Snapshot(connection, snapshot_id)
        connection.rollback()


COUNT_BATCH = 50  # schemas counted by one statement (750 tables)


def _tables_by_schema(connection: psycopg.Connection, schemas: list[str]) -> dict[str, list[str]]:
    """Every table of each schema, read from the catalogue in one query."""
    tables: dict[str, list[str]] = {schema: [] for schema in schemas}
    rows = connection.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p') ORDER BY 1, 2",
        (schemas,),
    )
    for schema, table in rows:
        tables[schema].append(table)
    return tables


def row_counts(
    connection: psycopg.Connection, schemas: dict[str, str]
) -> dict[str, dict[str, int]]:
    """Rows per table of each schema (``{key: schema}`` → ``{key: {table: rows}}``), counted
    with one statement per ``COUNT_BATCH`` schemas (on an autocommit connection, each its
    own transaction, holding its locks only while it runs)."""
    keys = {schema: key for key, schema in schemas.items()}
    tables = _tables_by_schema(connection, list(keys))
    counts: dict[str, dict[str, int]] = {key: {} for key in schemas}
    batch_of_schemas = list(tables)
    for start in range(0, len(batch_of_schemas), COUNT_BATCH):
        parts = [
            sql.SQL("SELECT {}, {}, count(*) FROM {}").format(
                sql.Literal(schema), sql.Literal(table), sql.Identifier(schema, table)
            )
            for schema in batch_of_schemas[start : start + COUNT_BATCH]
            for table in tables[schema]
        ]
        if parts:
            for schema, table, rows in connection.execute(sql.SQL(" UNION ALL ").join(parts)):
                counts[keys[schema]][table] = int(rows)
    return counts


def _scratch_prefix(url: str) -> str:
    """Scratch databases are named after the live one, so each service finds its own."""
    return f"{make_url(url).database or 'lj'}"[:40] + "_scratch_"


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A new empty database on the same server, dropped when the block ends; yields its URL."""
    name = f"{_scratch_prefix(url)}{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield libpq_url(url, name)
    finally:
        _drop_database(url, name)


def _drop_database(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def drop_abandoned_scratch_databases(url: str) -> int:
    """Drop the scratch databases a killed verification left. Only while holding the
    backup job's lock: then no verification of this service is running."""
    with psycopg.connect(url, autocommit=True) as connection:
        names = [
            name
            for (name,) in connection.execute("SELECT datname FROM pg_database")
            if name.startswith(_scratch_prefix(url))
        ]
    for name in names:
        _drop_database(url, name)
    return len(names)
