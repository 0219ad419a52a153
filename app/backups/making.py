"""Making a backup: the whole database and the media files, encrypted, with a manifest.

``pg_dump -Fc`` reads an exported snapshot (the registry rows of the manifest
are read in the same one), and the rows of every table are counted in the dump
itself as it streams (``app.backups.counting``), so the manifest's counts are
exactly the dump's (a verification that restores the dump must find them again);
the same reading keeps each setting's rows in a file of its own
(``app.backups.setting_data``). The dump streams from ``pg_dump`` through the
encryption into the backup folder: no plaintext copy is ever written. The media
files are taken after the snapshot: a photo uploaded meanwhile is an extra file
(harmless), never a row without its file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import IO, Any

import psycopg
from flask import current_app
from psycopg.rows import dict_row

from app import clock
from app.backups.counting import DumpReader
from app.backups.crypto import EncryptingWriter
from app.backups.postgres import (
    BackupRefused,
    check_lock_capacity,
    drop_abandoned_scratch_databases,
    exported_snapshot,
    libpq_url,
    pg_tool,
    server_major,
)
from app.backups.setting_data import SettingDataFiles
from app.backups.store import (
    DATABASE,
    MANIFEST,
    MEDIA,
    PARTIAL_PREFIX,
    StoredBackup,
    partial_backups,
    stamp,
)
from app.storage.durable import fsync_folder
from tenants.migrating import setting_head_revision
from tenants.slugs import SPARE_SCHEMA_PREFIX

PIPE_BYTES = 1024 * 1024
FORMAT = 2
"""The manifest's format: 2 added each setting's rows in a file of its own
(``app.backups.setting_data``), which a one-setting restore needs."""


@dataclass(frozen=True)
class BackupPlace:
    """Where backups go and what they are made of, from the app's configuration."""

    database_url: str
    media_root: Path
    backup_dir: Path
    backup_key: str


def backup_place() -> BackupPlace:
    config = current_app.config["LJ"]
    return BackupPlace(
        database_url=libpq_url(config.DATABASE_URL),
        media_root=Path(config.MEDIA_ROOT),
        backup_dir=Path(config.BACKUP_DIR),
        backup_key=config.BACKUP_KEY,
    )


def _jsonable(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _registry_rows(connection: psycopg.Connection) -> list[dict[str, Any]]:
    with connection.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute("SELECT * FROM public.settings ORDER BY slug").fetchall()
    return [{column: _jsonable(value) for column, value in row.items()} for row in rows]


def _public_revision(connection: psycopg.Connection) -> str | None:
    row = connection.execute("SELECT version_num FROM public.alembic_version").fetchone()
    return row[0] if row else None


def run_with_output_to(command: list[str], sink: Callable[[bytes], object]) -> None:
    """Run ``command``, handing its standard output to ``sink`` as it comes.

    Raises ``BackupRefused`` with the tool's own message when it fails.
    """
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)  # noqa: S603
        assert process.stdout is not None
        while block := process.stdout.read(PIPE_BYTES):
            sink(block)
        if process.wait() != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise BackupRefused(f"{Path(command[0]).name} failed: {message}")


def _read_from(output: IO[bytes], reader: DumpReader, failures: list[BaseException]) -> None:
    try:
        while block := output.read(PIPE_BYTES):
            reader.feed(block)
    except BaseException as error:
        failures.append(error)
        # Keep draining: pg_restore (and so pg_dump) would otherwise wait on a full pipe.
        while output.read(PIPE_BYTES):
            pass


def _dump_and_read(
    command: list[str], pg_restore: Path, writer: EncryptingWriter, reader: DumpReader
) -> None:
    """Run ``pg_dump`` into ``writer`` and, as it streams, through
    ``pg_restore --data-only`` into ``reader`` (``app.backups.counting``)."""
    failures: list[BaseException] = []
    with tempfile.TemporaryFile() as errors:
        restore = subprocess.Popen(  # noqa: S603 - our own tool and arguments
            [str(pg_restore), "--data-only", "-f", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        assert restore.stdin is not None
        reading = threading.Thread(target=_read_from, args=(restore.stdout, reader, failures))
        reading.start()

        def keep_and_read(block: bytes) -> None:
            writer.write(block)
            restore.stdin.write(block)  # type: ignore[union-attr]

        try:
            run_with_output_to(command, keep_and_read)
        finally:
            restore.stdin.close()
            reading.join()
            status = restore.wait()
        if failures:
            raise failures[0]
        if status != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise BackupRefused(f"pg_restore could not read the dump back: {message}")


def _dump_database(place: BackupPlace, folder: Path) -> dict[str, Any]:
    """Write the encrypted dump and each setting's rows; returns the manifest's database part."""
    with psycopg.connect(place.database_url) as connection:
        check_lock_capacity(connection)
        major = server_major(connection)
    with exported_snapshot(place.database_url) as snapshot:
        registry = _registry_rows(snapshot.connection)
        public_revision = _public_revision(snapshot.connection)
        writer = EncryptingWriter(folder / DATABASE, place.backup_key)
        setting_files = SettingDataFiles(
            folder, place.backup_key, {row["schema_name"]: row["slug"] for row in registry}
        )
        reader = DumpReader(setting_files)
        command = [
            str(pg_tool("pg_dump", major)),
            "-Fc",
            f"--snapshot={snapshot.id}",
            # Spare schemas (tenants.spares) are not settings: empty, built again at will.
            # Their records in public.spare_schemas come along; a restored database never
            # takes one whose schema is missing, and its next refill drops them.
            f"--exclude-schema={SPARE_SCHEMA_PREFIX}*",
        ]
        try:
            _dump_and_read(
                [*command, "-d", place.database_url], pg_tool("pg_restore", major), writer, reader
            )
            files = setting_files.close()
        except BaseException:
            writer.abandon()
            setting_files.abandon()
            raise
        writer.close()
    schemas = {row["slug"]: row["schema_name"] for row in registry}
    return {
        "registry": registry,
        "public_rows": reader.counts.get("public", {}),
        "rows": {slug: reader.counts.get(schema, {}) for slug, schema in schemas.items()},
        "sequences": {slug: reader.sequences.get(schema, {}) for slug, schema in schemas.items()},
        "setting_files": files,
        "revisions": {"public": public_revision, "setting": setting_head_revision()},
        "database_sha256": writer.sha256,
        "database_bytes": writer.plain_bytes,
    }


def _archive_media(place: BackupPlace, folder: Path) -> dict[str, Any]:
    """Write every file under MEDIA_ROOT into the encrypted tar; returns files per folder."""
    writer = EncryptingWriter(folder / MEDIA, place.backup_key)
    files: Counter[str] = Counter()
    try:
        with tarfile.open(fileobj=writer, mode="w|") as archive:  # type: ignore[call-overload]
            if place.media_root.is_dir():
                for path in sorted(place.media_root.rglob("*")):
                    if path.is_file() and not path.is_symlink():
                        relative = path.relative_to(place.media_root)
                        archive.add(path, arcname=str(relative), recursive=False)
                        files[relative.parts[0] if len(relative.parts) > 1 else ""] += 1
    except BaseException:
        writer.abandon()
        raise
    writer.close()
    return {"media_files": dict(files), "media_sha256": writer.sha256}


def _write_manifest(place: BackupPlace, folder: Path, manifest: dict[str, Any]) -> None:
    writer = EncryptingWriter(folder / MANIFEST, place.backup_key)
    writer.write(json.dumps(manifest, sort_keys=True).encode())
    writer.close()


def remove_abandoned_work(place: BackupPlace) -> int:
    """Remove the partial backups and scratch databases of runs that died; returns how many.

    Only while holding the backup job's lock: then no backup or verification of
    this service is running, and whatever they leave was left by a crash.
    """
    abandoned = partial_backups(place.backup_dir)
    for path, _started in abandoned:
        shutil.rmtree(path)
    return len(abandoned) + drop_abandoned_scratch_databases(place.database_url)


def make_backup(place: BackupPlace) -> StoredBackup:
    """Back up the whole database and the media files into a new folder under BACKUP_DIR."""
    started = clock.now()
    place.backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = place.backup_dir / f"{PARTIAL_PREFIX}{stamp(started)}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(mode=0o700)
    try:
        manifest: dict[str, Any] = {"format": FORMAT, "made_at": started.isoformat()}
        manifest |= _dump_database(place, folder)
        manifest |= _archive_media(place, folder)
        _write_manifest(place, folder, manifest)
        fsync_folder(folder)
        final = place.backup_dir / stamp(started)
        if final.exists():
            raise BackupRefused(f"a backup called {final.name} exists already")
        os.rename(folder, final)
        fsync_folder(place.backup_dir)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StoredBackup(final, started.replace(microsecond=0))
