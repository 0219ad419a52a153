"""The durable queue of files to delete: scheduled in a transaction, removed after its commit.

Deleting a file inside a transaction is wrong both ways: delete first and a
rollback leaves a row naming a missing file; commit first and a crash before
the delete leaves a file nothing names (a child's photo no purge will find).
So the change that makes files garbage also writes their paths to the
setting's ``file_deletions`` table, in the same transaction:

- committed: a Celery task sent at commit drains the queue at once, and the
  ``file-deletions`` job drains every setting's queue regularly, in case that
  task was lost (Redis down, a worker killed);
- rolled back: the rows vanish with the change, and the files stay.

Draining is idempotent: a file already gone counts as deleted, and each row is
removed in the same transaction that saw its file go, so draining twice (or two
drains at once: rows are taken with ``SKIP LOCKED``) deletes nothing twice and
fails on nothing. A row can also be scheduled for later (``due_at``): written
*before* a file, in a transaction of its own, it is the record that lets a
crash mid-upload be cleaned up (see ``app.journal.storage``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from celery import shared_task
from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app import clock
from app.extensions import db
from app.storage.models import FileDeletion
from tenants.binding import current_setting, tenant_context
from tenants.each_setting import EachSettingReport, run_each_setting
from workers.after_commit import send_task_after_commit

log = logging.getLogger(__name__)

BATCH_SIZE = 200
RETRY_AFTER = timedelta(hours=1)  # a file that could not be removed (not: was missing)


class OutsideMediaRoot(ValueError):
    """A path to delete is not inside ``MEDIA_ROOT``."""


def _media_root() -> Path:
    return Path(current_app.config["LJ"].MEDIA_ROOT).resolve()


def _relative(path: Path) -> str:
    """``path`` as stored: relative to MEDIA_ROOT, which it must be inside."""
    try:
        return str(Path(path).resolve().relative_to(_media_root()))
    except ValueError as error:
        raise OutsideMediaRoot(str(path)) from error


def _absolute(stored: str) -> Path | None:
    """Where a stored path points, or None if it would leave MEDIA_ROOT (never followed)."""
    root = _media_root()
    path = (root / stored).resolve()
    return path if path.is_relative_to(root) and path != root else None


def schedule_file_deletion(
    paths: Iterable[Path], *, due_at: datetime | None = None, session: Session | None = None
) -> list[int]:
    """Record files under MEDIA_ROOT to delete once this transaction commits.

    Flushes in ``session`` (the request's or job's, by default) and never
    commits. The bound setting's queue is drained after the commit; files are
    removed no earlier than ``due_at`` (default: now). Returns the rows' ids,
    so a caller that wrote the rows ahead of time can cancel them
    (``cancel_file_deletions``) in the transaction that keeps the files.
    """
    session = session or db.session()
    rows = [FileDeletion(path=_relative(path), due_at=due_at or clock.now()) for path in paths]
    session.add_all(rows)
    session.flush()
    if due_at is None:  # files due later wait for the file-deletions job
        send_task_after_commit(session, drain_file_deletions_task, current_setting().slug)
    return [row.id for row in rows]


def cancel_file_deletions(ids: Iterable[int]) -> None:
    """Keep files scheduled for deletion after all, if the current transaction commits."""
    db.session.execute(delete(FileDeletion).where(FileDeletion.id.in_(list(ids))))


def _remove(path: Path | None) -> bool:
    """Remove a file; True when it is gone (also when it was already gone)."""
    if path is None:
        return True
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.exception("could not delete file %s; will try again later", path)
        return False
    return True


def drain_file_deletions() -> int:
    """Delete the bound setting's due files; returns how many were deleted.

    Commits per batch: each batch's rows go in the transaction that saw their
    files removed, so a crash part-way leaves only rows whose files may already
    be gone, which the next drain handles as done.
    """
    removed = 0
    while True:
        rows = db.session.execute(
            select(FileDeletion.id, FileDeletion.path)
            .where(FileDeletion.due_at <= clock.now())
            .order_by(FileDeletion.id)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            db.session.commit()
            return removed
        done = [row.id for row in rows if _remove(_absolute(row.path))]
        failed = [row.id for row in rows if row.id not in set(done)]
        db.session.execute(delete(FileDeletion).where(FileDeletion.id.in_(done)))
        db.session.execute(
            update(FileDeletion)
            .where(FileDeletion.id.in_(failed))
            .values(due_at=clock.now() + RETRY_AFTER)
        )
        db.session.commit()
        removed += len(done)


@shared_task(name="storage.drain_file_deletions", ignore_result=True)
def drain_file_deletions_task(slug: str) -> None:
    """Drain one setting's queue (sent when a transaction that scheduled files commits)."""
    with tenant_context(slug):
        drain_file_deletions()


def drain_every_setting() -> EachSettingReport:
    """The ``file-deletions`` job: drain every active setting's queue."""
    return run_each_setting(lambda setting: {"files deleted": drain_file_deletions()})
