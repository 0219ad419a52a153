"""The backups on disk: one folder each under ``BACKUP_DIR``, listed, verified, rotated.

    BACKUP_DIR/
      20261202T020000Z/           a complete backup, named by when it was made (UTC)
        manifest.json.enc         time, revision heads, registry rows, counts, checksums
        database.dump.enc         pg_dump -Fc of the whole database
        settings/00001.enc ...    each setting's rows apart (``app.backups.setting_data``)
        media.tar.enc             every file under MEDIA_ROOT
        verification.json         the last verification's result (no personal data)
      .partial-20261203T020000Z-1a2b3c/   a backup being written (or abandoned by a crash)

A backup is written under its ``.partial-`` name and renamed when every file
is complete and fsynced, so a folder with a plain name is always whole.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.backups.crypto import BackupCorrupt, decrypted_chunks

STAMP = "%Y%m%dT%H%M%SZ"
PARTIAL_PREFIX = ".partial-"
MANIFEST = "manifest.json.enc"
DATABASE = "database.dump.enc"
MEDIA = "media.tar.enc"
VERIFICATION = "verification.json"

KEEP_FOR = timedelta(days=30)
PARTIAL_KEPT_FOR = timedelta(days=1)


class NoSuchBackup(LookupError):
    """No complete backup has that name."""


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP)


def _parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Verification:
    at: datetime
    ok: bool
    detail: str


@dataclass(frozen=True)
class StoredBackup:
    """A complete backup folder."""

    path: Path
    created_at: datetime

    @property
    def name(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def verification(self) -> Verification | None:
        try:
            data = json.loads((self.path / VERIFICATION).read_text())
        except (OSError, ValueError):
            return None
        return Verification(datetime.fromisoformat(data["at"]), bool(data["ok"]), data["detail"])

    @property
    def verified(self) -> bool:
        verification = self.verification
        return verification is not None and verification.ok

    def record_verification(self, verification: Verification) -> None:
        """Write the result beside the backup (atomically: a crash leaves the old one)."""
        text = json.dumps(
            {
                "at": verification.at.isoformat(),
                "ok": verification.ok,
                "detail": verification.detail,
            }
        )
        temporary = self.path / f".{VERIFICATION}.tmp"
        temporary.write_text(text)
        os.replace(temporary, self.path / VERIFICATION)

    def manifest(self, backup_key: str) -> dict[str, Any]:
        """The decrypted manifest; raises ``BackupUnreadable`` with a clear message (a
        folder copied back without it, or cut by hand, has none)."""
        if not (self.path / MANIFEST).is_file():
            raise BackupCorrupt(f"{self.name}/{MANIFEST} is missing")
        return json.loads(b"".join(decrypted_chunks(self.path / MANIFEST, backup_key)))


def backups(root: Path) -> list[StoredBackup]:
    """Every complete backup under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        created = _parse_stamp(path.name)
        if created is not None and path.is_dir():
            found.append(StoredBackup(path, created))
    return sorted(found, key=lambda backup: backup.created_at)


def partial_backups(root: Path) -> list[tuple[Path, datetime]]:
    """Folders of backups never completed, with when each was started."""
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if path.name.startswith(PARTIAL_PREFIX):
            created = _parse_stamp(path.name[len(PARTIAL_PREFIX) :].split("-")[0])
            if created is not None:
                found.append((path, created))
    return found


def find_backup(root: Path, name: str | None) -> StoredBackup:
    """The backup called ``name``, or the newest one when ``name`` is None."""
    complete = backups(root)
    if name is None:
        if not complete:
            raise NoSuchBackup(f"there are no backups in {root}")
        return complete[-1]
    for backup in complete:
        if backup.name == name.rstrip("/").rsplit("/", 1)[-1]:
            return backup
    raise NoSuchBackup(f"no backup called {name!r} in {root} (see `backups list`)")


def newest_verified_backup_age(root: Path, now: datetime) -> timedelta | None:
    """How old the newest verified backup is; None when no backup has been verified."""
    verified = [backup for backup in backups(root) if backup.verified]
    return now - verified[-1].created_at if verified else None


@dataclass
class Rotation:
    deleted: list[str] = field(default_factory=list)
    partial_deleted: list[str] = field(default_factory=list)
    kept: int = 0

    def summary(self) -> str:
        return (
            f"{self.kept} backups kept, {len(self.deleted)} older than 30 days deleted, "
            f"{len(self.partial_deleted)} abandoned partial backups removed"
        )


def rotate(root: Path, now: datetime) -> Rotation:
    """Keep exactly the last 30 days of backups.

    Backups more than ``KEEP_FOR`` old are deleted and none younger; the newest
    verified backup is never deleted, even when every backup is older (a wrong
    clock, or backups failing for weeks, must not leave nothing to restore);
    a partial backup more than a day old was abandoned by a crash and goes.
    """
    rotation = Rotation()
    complete = backups(root)
    verified = [backup for backup in complete if backup.verified]
    protected = verified[-1] if verified else None
    for backup in complete:
        if now - backup.created_at > KEEP_FOR and backup != protected:
            shutil.rmtree(backup.path)
            rotation.deleted.append(backup.name)
        else:
            rotation.kept += 1
    for path, started in partial_backups(root):
        if now - started > PARTIAL_KEPT_FOR:
            shutil.rmtree(path)
            rotation.partial_deleted.append(path.name)
    return rotation
