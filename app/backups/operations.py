"""The nightly backup job, and what the rest of the service asks about backups."""

from __future__ import annotations

from datetime import timedelta

from app import clock
from app.backups import store
from app.backups.making import backup_place, make_backup, remove_abandoned_work
from app.backups.restoring import verify_backup


class BackupNotVerified(RuntimeError):
    """The backup just made did not pass verification (the job is recorded as failed)."""


def nightly_backup() -> str:
    """Back up, verify what was made, rotate; returns the run's summary.

    Runs under the job's lock, so a partial backup found now was abandoned by a
    run that died: it is removed first.
    """
    place = backup_place()
    abandoned = remove_abandoned_work(place)
    backup = make_backup(place)
    verification = verify_backup(place, backup)
    rotation = store.rotate(place.backup_dir, clock.now())
    summary = f"backup {backup.name} made, " + (
        "verified" if verification.ok else f"NOT verified: {verification.detail}"
    )
    summary += f"; {rotation.summary()}"
    if abandoned:
        summary += f"; {abandoned} leftover(s) of a run that died removed"
    if not verification.ok:
        raise BackupNotVerified(summary)
    return summary


def newest_verified_backup_age() -> timedelta | None:
    """How old the newest verified backup is, or None when none is verified."""
    return store.newest_verified_backup_age(backup_place().backup_dir, clock.now())
