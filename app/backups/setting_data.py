"""Each setting's rows in a file of its own, so that one setting is restored without the dump.

Restoring one schema out of a dump of every setting makes ``pg_restore`` read the
whole archive's table of contents first (232 entries a setting: 1.2-1.8 s for 1,000
settings), whatever it is asked for. So a backup also keeps each setting's table data
apart: the ``COPY`` blocks ``pg_restore --data-only`` prints as the dump streams
(``app.backups.counting``), compressed and encrypted into ``settings/NNNNN.enc`` (the
number, not the slug, names the file: a backup disk does not list the customers); each
sequence's value goes into the manifest. A one-setting restore builds the schema from
our own DDL at the backup's revision and loads these rows into it.

The rows are plaintext only in memory (a pipe, then this process), never on disk.
"""

from __future__ import annotations

import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from app.backups.counting import COPY_LINE, DumpReader
from app.backups.crypto import BackupCorrupt, EncryptingWriter, decrypted_chunks
from app.backups.postgres import BackupRefused
from app.storage.durable import fsync_folder

SETTINGS_FOLDER = "settings"
COMPRESSION_LEVEL = 1  # the rows are a small part of a backup's time: compress fast


class SettingDataFiles:
    """A ``counting.TableSink`` writing each setting's ``COPY`` blocks into its own file.

    ``pg_dump`` writes table data schema after schema, so one file is open at a time;
    a schema met again after its file was closed fails the backup rather than splitting
    a setting's rows over two files. Each finished file is sealed and fsynced by another
    thread: 1,000 fsyncs (2.6 s on a busy disk) would otherwise stall the pipe from
    ``pg_dump`` while each one waits.
    """

    def __init__(self, folder: Path, backup_key: str, slugs_by_schema: dict[str, str]) -> None:
        self._folder = folder / SETTINGS_FOLDER
        self._folder.mkdir(mode=0o700)
        self._key = backup_key
        self._slugs = slugs_by_schema
        self._schema: str | None = None
        self._writer: EncryptingWriter | None = None
        self._compressor = zlib.compressobj(COMPRESSION_LEVEL)
        self._closer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backup-fsync")
        self._closing: dict[str, tuple[EncryptingWriter, Future[None]]] = {}
        self.files: dict[str, dict[str, str]] = {}

    def __call__(self, schema: str, table: str, data: bytes) -> None:
        if schema not in self._slugs:  # public: restored only with the whole database
            return
        if schema != self._schema:
            self._close_current()
            self._open(schema)
        assert self._writer is not None
        self._writer.write(self._compressor.compress(data))

    def _open(self, schema: str) -> None:
        slug = self._slugs[schema]
        if slug in self.files:
            raise BackupRefused(f"the dump holds setting {slug}'s rows in two places")
        name = f"{SETTINGS_FOLDER}/{len(self.files) + 1:05d}.enc"
        self._schema, self._writer = schema, EncryptingWriter(self._folder.parent / name, self._key)
        self._compressor = zlib.compressobj(COMPRESSION_LEVEL)
        self.files[slug] = {"file": name}

    def _close_current(self) -> None:
        if self._writer is None:
            return
        self._writer.write(self._compressor.flush())
        slug = self._slugs[self._schema or ""]
        self._closing[slug] = (self._writer, self._closer.submit(self._writer.close))
        self._writer = None

    def close(self) -> dict[str, dict[str, str]]:
        """Finish every file, durably; returns ``{slug: {"file": ..., "sha256": ...}}``."""
        self._close_current()
        self._closer.shutdown()
        for slug, (writer, closed) in self._closing.items():
            closed.result()  # raises what closing the file raised
            self.files[slug]["sha256"] = writer.sha256
        fsync_folder(self._folder)
        return self.files  # none for a deleted setting: it has a registry row but no schema

    def abandon(self) -> None:
        """Stop writing (the caller removes the partial backup)."""
        self._closer.shutdown(cancel_futures=True)
        if self._writer is not None:
            self._writer.abandon()


@dataclass(frozen=True)
class TableRows:
    """One table's rows as ``COPY ... FROM stdin`` reads them."""

    columns: str  # "(id, name, ...)", as pg_dump wrote them
    rows: bytes
    count: int


def read_setting_rows(
    backup_folder: Path, entry: dict[str, str], backup_key: str
) -> dict[str, TableRows]:
    """The rows of each table in a setting's file (authenticated, checked against the
    manifest's ``entry``, decompressed)."""
    path = backup_folder / entry["file"]
    sealed = b"".join(decrypted_chunks(path, backup_key, entry["sha256"]))
    try:
        plaintext = zlib.decompress(sealed)
    except zlib.error as error:
        raise BackupCorrupt(f"{entry['file']} does not decompress: {error}") from None
    pieces: dict[str, list[bytes]] = {}
    reader = DumpReader(lambda _schema, table, data: pieces.setdefault(table, []).append(data))
    reader.feed(plaintext)
    counts = next(iter(reader.counts.values()), {})
    tables = {}
    for table, parts in pieces.items():
        block = b"".join(parts)
        copy_line = block[: block.index(b"\n") + 1]
        found = COPY_LINE.match(copy_line.decode())
        assert found is not None, "the reader gave a block that is not a table's"
        columns = copy_line.decode()[found.end() :].removesuffix(" FROM stdin;\n")
        rows = block[len(copy_line) : -len(b"\\.\n")]
        tables[table] = TableRows(columns, rows, counts[table])
    return tables
