"""A whole service for backup tests: its own database, media folder and backups."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from flask import Flask
from psycopg import sql

from app.backups.crypto import EncryptingWriter, decrypted_chunks
from app.backups.store import MANIFEST, StoredBackup, backups
from tenants.provisioning import provision_setting
from tests.helpers.journal import Journal, make_family, observe_with_a_photo


@dataclass
class Service:
    app: Flask
    database_url: str
    media_root: Path
    backup_dir: Path
    ledger: Path

    def cli(self, *args: str, input: str | None = None):
        return self.app.test_cli_runner().invoke(args=list(args), input=input)

    def only_backup(self) -> StoredBackup:
        found = backups(self.backup_dir)
        assert len(found) == 1, found
        return found[0]

    def restore(self, *options: str, input: str | None = None):
        """`backups restore` of the one backup made, with these options."""
        return self.cli("backups", "restore", self.only_backup().name, *options, input=input)

    def rewrite_manifest(self, backup: StoredBackup, change: Callable[[dict], None]) -> None:
        """Change ``backup``'s manifest as another release would have written it."""
        key = self.app.config["LJ"].BACKUP_KEY
        manifest = json.loads(b"".join(decrypted_chunks(backup.path / MANIFEST, key)))
        change(manifest)
        (backup.path / MANIFEST).unlink()
        writer = EncryptingWriter(backup.path / MANIFEST, key)
        writer.write(json.dumps(manifest).encode())
        writer.close()

    def family(self, slug: str, name: str = "Sunnyside Nursery") -> Journal:
        """A setting with two families and one published observation with a photo."""
        with self.app.app_context():
            provision_setting(slug, name, f"manager@{slug}.example.org", "Mina Manager")
        family = make_family(self.app, slug)
        observe_with_a_photo(self.app, family, "Ada built a tower of ten blocks.")
        return family


def drop_databases_starting(admin: str, prefix: str) -> None:
    with psycopg.connect(admin, autocommit=True) as connection:
        names = [
            name
            for (name,) in connection.execute("SELECT datname FROM pg_database")
            if name == prefix or name.startswith(f"{prefix}_")
        ]
        for name in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


class DatabaseDropper:
    """Drops databases in a thread of its own (``drop_databases_starting``), in the order
    asked; ``finish()`` waits for the last and raises the first failure."""

    def __init__(self) -> None:
        self._asked: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._failures: list[BaseException] = []
        self._thread = threading.Thread(target=self._drop_each, name="database-dropper")
        self._thread.start()

    def drop_starting(self, admin: str, prefix: str) -> None:
        self._asked.put((admin, prefix))

    def _drop_each(self) -> None:
        while (asked := self._asked.get()) is not None:
            try:
                drop_databases_starting(*asked)
            except Exception as error:  # told by finish(), at the end of the run
                self._failures.append(error)

    def finish(self) -> None:
        self._asked.put(None)
        self._thread.join()
        if self._failures:
            raise self._failures[0]
