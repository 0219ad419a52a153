"""Verifying a backup, and restoring the whole database or one setting from it.

Every path reads each backup file it needs once, as a stream that authenticates as
it goes and checks the file's checksum against the manifest at its end, and nothing
live is changed until everything needed has been read whole: a wrong key, a
damaged, truncated or swapped file is refused with a clear message and leaves
the live database and media as they were. For ``pg_restore`` the dump is decrypted
into an unnamed temporary file it can seek in.

- ``verify_backup``: restore into a scratch database, compare every count of
  the manifest (and of each setting's rows file), record the result beside the backup.
- ``restore_database``: restore into a new database, then swap it for the live
  one by renaming (the replaced one is kept for the operator to drop), swap the
  media folder, migrate, replay the erasure ledger, end every session.
- ``restore_setting``: rebuild one setting's schema (our own DDL at the backup's
  revision), rows (its own file, ``app.backups.setting_data``: the dump is not read),
  sequences and registry row in one transaction, in place or beside it (``as_slug``),
  migrate it, swap its media folder, replay the ledger for it, end its sessions.
  Other settings are untouched.

Every restore replays the erasure ledger from a day before the backup was made
(replaying is idempotent, and a purge's entry is written just before its
commit, possibly a while before the snapshot was taken).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from graphlib import TopologicalSorter
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import clock
from app.auth import audit
from app.auth.sessions import end_all_sessions_of_setting, end_every_session
from app.backups.crypto import (
    BackupCorrupt,
    BackupUnreadable,
    DecryptingReader,
    decrypted_chunks,
)
from app.backups.making import BackupPlace
from app.backups.postgres import (
    BackupRefused,
    libpq_url,
    pg_tool,
    row_counts,
    scratch_database,
    server_major,
)
from app.backups.setting_data import TableRows, read_setting_rows
from app.backups.store import DATABASE, MEDIA, StoredBackup, Verification
from app.extensions import db
from app.journal.storage import WAITING_FOLDER
from app.retention import ledger
from tenants.binding import BoundSetting, any_status_context, bind, unbind
from tenants.building import build_empty_schema
from tenants.migrating import (
    SETTING_HEAD,
    is_known_revision,
    migrate_all_settings,
    setting_head_revision,
    upgrade_public,
    upgrade_schema,
)
from tenants.registry import forget_cached, setting_by_slug
from tenants.slugs import InvalidSlug, schema_name_for, validate_slug

REPLAY_MARGIN = timedelta(days=1)
VERSION_TABLE = "alembic_version"  # each setting schema's own

RESTORED_COPY_SUFFIX = " (restored copy)"


# ------------------------------------------------------------------ reading a backup


def checked_manifest(
    place: BackupPlace, backup: StoredBackup, needs: tuple[str, ...] = (DATABASE, MEDIA)
) -> dict[str, Any]:
    """The manifest, after checking that the files ``needs`` are there. Each file's checksum
    is checked as it is read (``decrypted_chunks``), before anything live is changed."""
    manifest = backup.manifest(place.backup_key)
    for name in needs:
        if not backup.file(name).is_file():
            raise BackupCorrupt(f"{backup.name}/{name} is missing")
    return manifest


def _refuse_newer_release(backup: StoredBackup, manifest: dict[str, Any]) -> None:
    """``BackupRefused`` if a schema in ``backup`` is at a revision this release does not
    know: it could not be migrated, and a whole restore would have swapped the database
    in before finding that out. Checked before anything live changes."""
    for chain, revision in sorted(manifest["revisions"].items()):
        if revision and not is_known_revision(revision):
            raise BackupRefused(
                f"backup {backup.name} was made by a newer release: its {chain} schema is at "
                f"revision {revision}, which this release does not know. Restore it with "
                "that release or a later one; nothing was changed"
            )


def _setting_file(backup: StoredBackup, manifest: dict[str, Any], slug: str) -> dict[str, str]:
    """The manifest's entry for the file of ``slug``'s rows."""
    if "setting_files" not in manifest:
        raise BackupRefused(
            f"backup {backup.name} was made before backups kept each setting's rows apart "
            f"(format {manifest.get('format')}): one setting cannot be restored from it. Restore "
            "it whole into a scratch server, or restore one setting from a newer backup"
        )
    entry = manifest["setting_files"].get(slug)
    if entry is None:
        raise BackupRefused(
            f"backup {backup.name} holds no schema of setting '{slug}' (it had been deleted)"
        )
    if not (backup.path / entry["file"]).is_file():
        raise BackupCorrupt(f"{backup.name}/{entry['file']} (the rows of {slug}) is missing")
    return entry


def made_at(manifest: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(manifest["made_at"])


def _tool(place: BackupPlace, name: str) -> Path:
    with psycopg.connect(place.database_url) as connection:
        return pg_tool(name, server_major(connection))


@contextmanager
def decrypted_dump(
    place: BackupPlace, backup: StoredBackup, manifest: dict[str, Any]
) -> Iterator[IO[bytes]]:
    """The backup's dump, decrypted whole (so authenticated and checked against the
    manifest whole) into a temporary file.

    ``pg_restore`` reads a file it can seek in far faster than a pipe: for one schema it
    skips over the data of every other one instead of reading it all through. The file has
    no name (``O_TMPFILE``), so the plaintext is gone when it is closed, also when the
    process is killed; it lies beside the backups, on a disk with room for them.
    """
    with tempfile.TemporaryFile(dir=place.backup_dir) as file:
        dump = backup.file(DATABASE)
        for chunk in decrypted_chunks(dump, place.backup_key, manifest["database_sha256"]):
            file.write(chunk)
        file.flush()
        yield file


def _pg_restore(
    place: BackupPlace, dump: IO[bytes], arguments: list[str], output: IO[bytes] | int
) -> None:
    """Run ``pg_restore`` on the decrypted ``dump``; raises when the restore fails."""
    descriptor = dump.fileno()
    command = [str(_tool(place, "pg_restore")), "--format=custom", "--no-owner", *arguments]
    # The file has no name: pg_restore opens it through this process's descriptor, which it
    # inherits, and reads it with an offset of its own.
    command.append(f"/dev/fd/{descriptor}")
    with tempfile.TemporaryFile() as errors:
        finished = subprocess.run(  # noqa: S603 - our own tool and arguments
            command, stdout=output, stderr=errors, pass_fds=(descriptor,), check=False
        )
        if finished.returncode != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise BackupRefused(f"pg_restore failed: {message}")


def _media_members(
    place: BackupPlace,
    backup: StoredBackup,
    manifest: dict[str, Any],
    into: dict[str, Path],
) -> Counter[str]:
    """Read the media archive through (which authenticates it and checks it against the
    manifest) and extract each file whose name starts with one of ``into``'s prefixes into
    that prefix's folder, the prefix taken off (``""``: every file, as it is); returns how
    many files per top folder were read."""
    files: Counter[str] = Counter()
    reader = DecryptingReader(backup.file(MEDIA), place.backup_key, manifest["media_sha256"])
    try:
        with tarfile.open(fileobj=reader, mode="r|") as archive:  # type: ignore[call-overload]
            for member in archive:
                if not member.isfile():
                    continue
                top = member.name.split("/", 1)[0] if "/" in member.name else ""
                files[top] += 1
                prefix = next((p for p in into if member.name.startswith(p)), None)
                if prefix is not None:
                    member.name = member.name[len(prefix) :]
                    archive.extract(member, into[prefix], filter="data")
        reader.read_to_end()
    except tarfile.TarError as error:
        raise BackupCorrupt(f"{backup.name}/{MEDIA} is not a whole archive: {error}") from None
    return files


# ------------------------------------------------------------------ verifying


class CountsDiffer(BackupRefused):
    """What was restored does not match the manifest."""


def _compare(what: str, expected: dict[str, int], found: dict[str, int]) -> None:
    if expected != found:
        differing = sorted(set(expected) | set(found))
        shown = ", ".join(
            f"{name} {expected.get(name)} → {found.get(name)}"
            for name in differing
            if expected.get(name) != found.get(name)
        )
        raise CountsDiffer(f"{what} differs from the manifest: {shown}")


def _compare_database(url: str, manifest: dict[str, Any]) -> int:
    schemas = {row["slug"]: row["schema_name"] for row in manifest["registry"]}
    # One transaction per statement: each holds a lock on every table and index it counts,
    # and 1,000 settings' worth (28,000 tables, more indexes) overflow the lock table.
    with psycopg.connect(url, autocommit=True) as connection:
        found = row_counts(connection, {"public": "public", **schemas})
    _compare("public schema", manifest["public_rows"], found["public"])
    for slug, expected in manifest["rows"].items():
        _compare(f"setting {slug}", expected, found[slug])
    return sum(sum(expected.values()) for expected in manifest["rows"].values())


def _compare_setting_files(
    place: BackupPlace, backup: StoredBackup, manifest: dict[str, Any]
) -> None:
    """Each setting's file of rows (what a one-setting restore reads) holds its counts."""
    for slug, entry in manifest.get("setting_files", {}).items():
        tables = read_setting_rows(backup.path, entry, place.backup_key)
        found = {table: rows.count for table, rows in tables.items()}
        _compare(f"the file of setting {slug}'s rows", manifest["rows"][slug], found)


def verify_backup(place: BackupPlace, backup: StoredBackup) -> Verification:
    """Restore ``backup`` into a scratch database and compare it with its manifest; the
    result is recorded beside the backup and returned."""
    try:
        manifest = checked_manifest(place, backup)
        with scratch_database(place.database_url) as scratch:
            with decrypted_dump(place, backup, manifest) as dump:
                _pg_restore(place, dump, ["-d", scratch], subprocess.DEVNULL)
            rows = _compare_database(scratch, manifest)
        _compare_setting_files(place, backup, manifest)
        files = _media_members(place, backup, manifest, into={})
        _compare("media files", manifest["media_files"], dict(files))
    except (BackupUnreadable, BackupRefused) as error:
        verification = Verification(clock.now(), False, str(error))
    else:
        verification = Verification(
            clock.now(),
            True,
            f"restored into a scratch database: {len(manifest['rows'])} settings, {rows} rows "
            f"and {sum(files.values())} files, as in the manifest",
        )
    backup.record_verification(verification)
    return verification


# ------------------------------------------------------------------ one setting


@dataclass
class SettingRestored:
    slug: str
    schema_name: str
    rows: int
    files: int
    purges_replayed: int
    sessions_ended: int


def _sql_value(value: Any) -> Any:
    """A registry value as the manifest holds it, ready for ``sql.Literal``: a JSON
    object (``second_factor_since_by_role``) is said to be jsonb, or psycopg refuses it
    ("cannot adapt type 'dict'") and the one-setting restore is rolled back."""
    return Jsonb(value) if isinstance(value, dict) else value


def _registry_row_sql(
    connection: psycopg.Connection, row: dict[str, Any], replace_by_slug: bool
) -> sql.Composed:
    """Insert the setting's registry row (policy columns included); in place, replace the
    row of the same slug and keep its id."""
    live_columns = {
        name
        for (name,) in connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'settings'"
        )
    }
    columns = [name for name in row if name in live_columns and name != "id"]
    statement = sql.SQL("INSERT INTO public.settings ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Literal(_sql_value(row[name])) for name in columns),
    )
    if replace_by_slug:
        statement += sql.SQL(" ON CONFLICT (slug) DO UPDATE SET {}").format(
            sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name))
                for name in columns
                if name != "slug"
            )
        )
    return statement


_TABLES_AND_REFERENCES = """
SELECT t.relname, referenced.relname
FROM pg_class t
LEFT JOIN pg_constraint k ON k.conrelid = t.oid AND k.contype = 'f'
LEFT JOIN pg_class referenced ON referenced.oid = k.confrelid
WHERE t.relnamespace = %s::regnamespace AND t.relkind IN ('r', 'p')
"""


def _tables_and_references(connection: psycopg.Connection, schema: str) -> dict[str, set[str]]:
    """Each table of ``schema`` and the other tables its foreign keys reference."""
    tables: dict[str, set[str]] = {}
    for table, referenced in connection.execute(_TABLES_AND_REFERENCES, (schema,)):
        references = tables.setdefault(table, set())
        # A table's rows may point at each other: the keys are checked after its COPY.
        if referenced is not None and referenced != table:
            references.add(referenced)
    return tables


def _load_rows(connection: psycopg.Connection, schema: str, tables: dict[str, TableRows]) -> None:
    """COPY each table's rows into ``schema``, whose tables must be exactly the backup's
    (the version table was written when the schema was built)."""
    tables = {name: rows for name, rows in tables.items() if name != VERSION_TABLE}
    built = _tables_and_references(connection, schema)
    built.pop(VERSION_TABLE, None)
    if set(built) != set(tables):
        raise BackupRefused(
            "the backup's tables do not match its revision's: "
            f"{', '.join(sorted(set(built) ^ set(tables)))}"
        )
    # A foreign key is checked at the end of each COPY: the rows it points at come first.
    for table in TopologicalSorter(built).static_order():
        statement = sql.SQL("COPY {} {} FROM STDIN").format(
            sql.Identifier(schema, table),
            sql.SQL(tables[table].columns),  # type: ignore[arg-type] - pg_dump's, authenticated
        )
        with connection.cursor().copy(statement) as copy:
            copy.write(tables[table].rows)


def _set_sequences(
    connection: psycopg.Connection, schema: str, sequences: dict[str, list[Any]]
) -> None:
    names = list(sequences)
    connection.execute(
        "SELECT setval(format('%%I.%%I', %s::text, name)::regclass, value, called) "
        "FROM unnest(%s::text[], %s::bigint[], %s::bool[]) AS s(name, value, called)",
        (
            schema,
            names,
            [sequences[name][0] for name in names],
            [sequences[name][1] for name in names],
        ),
    )


def _rebuild_setting(
    manifest: dict[str, Any],
    tables: dict[str, TableRows],
    slug: str,
    target: dict[str, Any],
    in_place: bool,
) -> None:
    """In one transaction: the setting's schema built afresh at the backup's revision (in
    place, replacing the live one), its rows and sequences loaded, brought up to the head
    revision, its registry row written."""
    try:
        _rebuild_in_one_transaction(manifest, tables, slug, target, in_place)
    except (psycopg.Error, DBAPIError) as error:
        raise BackupRefused(f"the restore was rolled back: {error}") from error


def _rebuild_in_one_transaction(
    manifest: dict[str, Any],
    tables: dict[str, TableRows],
    slug: str,
    target: dict[str, Any],
    in_place: bool,
) -> None:
    schema, revision = target["schema_name"], manifest["revisions"]["setting"]
    with db.engine.begin() as connection:
        raw = connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        if in_place:
            raw.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        build_empty_schema(connection, schema, revision)
        _load_rows(raw, schema, tables)
        _set_sequences(raw, schema, manifest["sequences"][slug])
        if not in_place:
            # The copy's queued file deletions must name its own folder, never the live one's.
            raw.execute(
                sql.SQL(
                    "UPDATE {}.file_deletions SET path = %s || substr(path, %s) WHERE path LIKE %s"
                ).format(sql.Identifier(schema)),
                (target["slug"] + "/", len(slug) + 2, slug + "/%"),  # slugs have no _ or %
            )
        if revision != setting_head_revision():
            # A backup from before a release holds an older schema: bring it up to date.
            upgrade_schema(connection, schema, SETTING_HEAD)
        raw.execute(_registry_row_sql(raw, target, replace_by_slug=in_place))


def _swap_folder(staging: Path, live: Path) -> None:
    """Put ``staging`` where ``live`` is (two renames), then remove the old one."""
    replaced = live.with_name(f".replaced-{live.name}-{uuid.uuid4().hex[:6]}")
    if live.exists():
        os.rename(live, replaced)
    os.rename(staging, live)
    shutil.rmtree(replaced, ignore_errors=True)


def _refuse_if_left_service(slug: str, since: datetime) -> None:
    if any(
        entry.record_type is ledger.RecordType.SETTING for entry in ledger.entries_for(slug, since)
    ):
        raise BackupRefused(
            f"the erasure ledger says setting '{slug}' left the service after this backup: "
            "it must not be restored"
        )


def _record_restore(slug: str, backup: str, backed_up_at: datetime, replayed: int) -> None:
    """The restored setting's audit log says what happened to it: its managers find their
    records as they were at ``backed_up_at`` (the log itself came back from the backup)."""
    with any_status_context(slug):
        audit.record(
            "backup.restored",
            backup=backup,
            backed_up_at=backed_up_at.isoformat(timespec="seconds"),
            purges_replayed=replayed,
        )
        db.session.commit()


def _replay_into(slug: str, target_slug: str, since: datetime) -> int:
    """Re-apply ``slug``'s purges since ``since`` to the setting ``target_slug``."""
    if target_slug == slug:
        return ledger.replay(slug, since)
    restored = setting_by_slug(target_slug)
    assert restored is not None
    due = ledger.entries_for(slug, since)
    db.session.remove()
    token = bind(
        BoundSetting(
            id=restored.id, slug=restored.slug, name=restored.name, schema_name=restored.schema_name
        )
    )
    try:
        for entry in due:
            ledger.reapply(entry)
            db.session.commit()
    finally:
        unbind(token)
    return len(due)


def setting_in_backup(place: BackupPlace, backup: StoredBackup, slug: str) -> dict[str, Any]:
    """The manifest of ``backup`` if it holds setting ``slug``: checked before the operator
    is asked to confirm, so a mistyped slug is named at once; ``BackupRefused`` otherwise."""
    manifest = checked_manifest(place, backup, needs=(MEDIA,))
    _refuse_newer_release(backup, manifest)
    if not any(row["slug"] == slug for row in manifest["registry"]):
        raise BackupRefused(f"backup {backup.name} has no setting '{slug}'")
    return manifest


def _live_status(slug: str) -> str | None:
    """The status the operator left the live setting in (suspended stays suspended: that
    is a decision of now, not data of the backup's night); None if it has no row."""
    live = setting_by_slug(slug)
    status = None if live is None else live.status.value
    db.session.remove()
    return status


def restore_setting(
    place: BackupPlace, backup: StoredBackup, slug: str, as_slug: str | None = None
) -> SettingRestored:
    """Restore one setting from ``backup``: in place, or beside it as ``as_slug``."""
    manifest = setting_in_backup(place, backup, slug)
    row = next(r for r in manifest["registry"] if r["slug"] == slug)
    since = made_at(manifest) - REPLAY_MARGIN
    _refuse_if_left_service(slug, since)
    target = dict(row)
    if as_slug is None:
        target["status"] = _live_status(slug) or target["status"]
    else:
        try:
            as_slug = validate_slug(as_slug)
        except InvalidSlug as error:
            raise BackupRefused(f"--as {as_slug!r}: {error}") from error
        if setting_by_slug(as_slug) is not None:
            raise BackupRefused(f"a setting '{as_slug}' exists already: choose another --as")
        db.session.remove()
        target |= {
            "slug": as_slug,
            "schema_name": schema_name_for(as_slug),
            "name": (row["name"][: 120 - len(RESTORED_COPY_SUFFIX)] + RESTORED_COPY_SUFFIX),
            "status": "suspended",
            "created_at": clock.now().isoformat(),
        }
    # Its photos, and the uploads still waiting to be processed when the backup was made
    # (their rows say "waiting": without their bytes they could only fail).
    live = {
        f"{slug}/": place.media_root / target["slug"],
        f"{WAITING_FOLDER}/{slug}/": place.media_root / WAITING_FOLDER / target["slug"],
    }
    staging = {
        prefix: place.media_root / f".restoring-{n}-{target['slug']}-{uuid.uuid4().hex[:6]}"
        for n, prefix in enumerate(live)
    }
    try:
        tables = read_setting_rows(
            backup.path, _setting_file(backup, manifest, slug), place.backup_key
        )
        files = _media_members(place, backup, manifest, into=staging)
        for folder in staging.values():
            folder.mkdir(parents=True, exist_ok=True)
        _rebuild_setting(manifest, tables, slug, target, in_place=as_slug is None)
    except BaseException:
        for folder in staging.values():
            shutil.rmtree(folder, ignore_errors=True)
        raise
    forget_cached()
    for prefix, folder in staging.items():
        live[prefix].parent.mkdir(parents=True, exist_ok=True)
        _swap_folder(folder, live[prefix])
    replayed = _replay_into(slug, target["slug"], since)
    _record_restore(target["slug"], backup.name, made_at(manifest), replayed)
    return SettingRestored(
        slug=target["slug"],
        schema_name=target["schema_name"],
        rows=sum(manifest["rows"][slug].values()),
        files=files[slug],
        purges_replayed=replayed,
        sessions_ended=end_all_sessions_of_setting(target["slug"]),
    )


# ------------------------------------------------------------------ the whole database


@dataclass
class DatabaseRestored:
    replaced_database: str
    settings: int
    purges_replayed: int
    settings_removed: list[str] = field(default_factory=list)
    sessions_ended: int = 0


def _database_name(url: str) -> str:
    name = make_url(url).database
    assert name, "DATABASE_URL names no database"
    return name


def _maintenance_url(place: BackupPlace) -> str:
    return libpq_url(place.database_url, "postgres")


def _swap_databases(place: BackupPlace, restored: str, replaced: str) -> None:
    """Rename the live database aside and the restored one into its place."""
    live = _database_name(place.database_url)
    db.session.remove()
    db.engine.dispose()
    with psycopg.connect(_maintenance_url(place), autocommit=True) as connection:
        # No new connections while it is renamed, then end those still open: the
        # service's processes reconnect to the restored database by its name.
        connection.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(live))
        )
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (live,),
        )
        connection.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(live), sql.Identifier(replaced)
            )
        )
        connection.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(restored), sql.Identifier(live)
            )
        )


def _remove_setting(place: BackupPlace, slug: str) -> None:
    """Take out a restored setting that had left the service after the backup."""
    with psycopg.connect(place.database_url) as connection:
        connection.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(schema_name_for(slug))
            )
        )
        connection.execute("DELETE FROM public.settings WHERE slug = %s", (slug,))
    shutil.rmtree(place.media_root / slug, ignore_errors=True)


def restore_database(place: BackupPlace, backup: StoredBackup) -> DatabaseRestored:
    """Replace the whole database and the media files with ``backup``'s."""
    manifest = checked_manifest(place, backup)
    _refuse_newer_release(backup, manifest)
    live = _database_name(place.database_url)
    suffix = f"{clock.now():%Y%m%d%H%M%S}"
    restored, replaced = f"{live[:40]}_restoring_{suffix}", f"{live[:40]}_replaced_{suffix}"
    place.media_root.parent.mkdir(parents=True, exist_ok=True)
    staging = place.media_root.with_name(f".{place.media_root.name}-restoring-{suffix}")
    maintenance = _maintenance_url(place)
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(restored)))
    try:
        staging.mkdir()
        _media_members(place, backup, manifest, into={"": staging})
        with decrypted_dump(place, backup, manifest) as dump:
            _pg_restore(
                place, dump, ["-d", libpq_url(place.database_url, restored)], subprocess.DEVNULL
            )
        _compare_database(libpq_url(place.database_url, restored), manifest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(restored))
            )
        raise
    _swap_databases(place, restored, replaced)
    _swap_folder(staging, place.media_root)
    return _after_database_restore(place, manifest, replaced, backup.name)


def _after_database_restore(
    place: BackupPlace, manifest: dict[str, Any], replaced: str, backup: str
) -> DatabaseRestored:
    """Migrate, replay the ledger for every setting (and say so in its audit log), end
    every session."""
    upgrade_public(db.engine)
    migrate_all_settings(db.engine)
    forget_cached()
    since = made_at(manifest) - REPLAY_MARGIN
    result = DatabaseRestored(replaced_database=replaced, settings=0, purges_replayed=0)
    for row in manifest["registry"]:
        try:
            replayed = ledger.replay(row["slug"], since)
        except ledger.SettingLeftService:
            _remove_setting(place, row["slug"])
            result.settings_removed.append(row["slug"])
        else:
            result.purges_replayed += replayed
            result.settings += 1
            if row["status"] != "deleted":
                _record_restore(row["slug"], backup, made_at(manifest), replayed)
    forget_cached()
    result.sessions_ended = end_every_session()
    return result
