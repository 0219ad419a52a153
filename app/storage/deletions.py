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

import errno
import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from celery import shared_task
from flask import current_app
from sqlalchemy import (
    DateTime,
    Delete,
    Select,
    String,
    Update,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app import clock
from app.extensions import db
from app.id_lists import among
from app.storage.models import FileDeletion
from tenants.binding import any_status_context, current_setting
from tenants.each_setting import EachSettingReport, run_each_setting
from workers.after_commit import send_task_after_commit

log = logging.getLogger(__name__)

# Rows per drain transaction: one fsync of each folder and one commit each. A directory
# fsync commits the file system's journal, and removals wait while it does: a purge batch
# of 200 children (8,000 files, workers.retention_purge) goes in one drain batch, and a
# drain that fell behind the purge takes up to five batches' files with one fsync.
BATCH_SIZE = 40_000
RETRY_AFTER = timedelta(hours=1)  # a file that could not be removed (not: was missing)
# Removing a file whose blocks are on disk waits on the file system's journal far longer
# than it uses the CPU (about 1 ms against 30 us, measured on our 2-core machine): many
# removals at once share those waits. 80,000 files took 12 s on 4 threads, 5.7 s on 16 and
# 4.5 s on 64 in one run (load 7); bench/retention.py prints the same comparison.
UNLINK_THREADS = 16
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class OutsideMediaRoot(ValueError):
    """A path to delete is not inside ``MEDIA_ROOT``."""


def _media_root() -> Path:
    return Path(current_app.config["LJ"].MEDIA_ROOT).resolve()


def _stored_paths(paths: Iterable[Path | str]) -> list[str]:
    """The paths as stored: relative to MEDIA_ROOT, which they must be inside.

    Each folder is resolved once (the files of one change share a folder or two) and
    the file's own name is kept as it is: removing a name never follows it. A path is
    split and joined as text: a purge queues 8,000 at a time, and ``os.path``'s functions
    cost it more than its INSERT.
    """
    root = _media_root()
    prefixes: dict[str, str] = {}  # folder as given -> as stored, with its last slash
    stored = []
    for path in paths:
        head, slash, name = os.fspath(path).rpartition("/")
        if name in ("", ".", ".."):
            raise OutsideMediaRoot(str(path))
        folder = head or slash  # "/name" is in the root folder, "name" in the current one
        if folder not in prefixes:
            prefixes[folder] = _stored_prefix(folder, root)
        stored.append(prefixes[folder] + name)
    return stored


def _stored_prefix(folder: str, root: Path) -> str:
    """``folder`` relative to ``root`` and resolved, ending with a slash ("" for the root)."""
    try:
        relative = Path(folder).resolve().relative_to(root)
    except ValueError as error:
        raise OutsideMediaRoot(folder) from error
    return "" if relative == Path() else f"{relative}/"


def schedule_file_deletion(
    paths: Iterable[Path | str], *, due_at: datetime | None = None, session: Session | None = None
) -> list[int]:
    """Record files under MEDIA_ROOT to delete once this transaction commits.

    Writes in ``session`` (the request's or job's, by default) and never
    commits. The bound setting's queue is drained after the commit; files are
    removed no earlier than ``due_at`` (default: now). Returns the rows' ids,
    so a caller that wrote the rows ahead of time can cancel them
    (``cancel_file_deletions``) in the transaction that keeps the files.
    """
    session = session or db.session()
    stored = _stored_paths(paths)
    if not stored:
        return []
    # One statement with one array, however many files (a purge queues thousands).
    rows = select(
        func.unnest(literal(stored, ARRAY(String))),
        literal(due_at or clock.now(), DateTime(timezone=True)),
    )
    ids = list(
        session.scalars(
            insert(FileDeletion).from_select(["path", "due_at"], rows).returning(FileDeletion.id)
        )
    )
    if due_at is None:  # files due later wait for the file-deletions job
        send_task_after_commit(session, drain_file_deletions_task, current_setting().slug)
    return ids


def schedule_files_named(folder: Path, names: Select[tuple[str, bool]]) -> tuple[int, str | None]:
    """Record the files of ``folder`` (under MEDIA_ROOT) that ``names`` names, to delete
    once this transaction commits, as ``schedule_file_deletion`` does; the query's rows
    are (a file's name, whether the caller refuses it). Returns how many were queued and
    a refused name, if any: the caller stops its change then.

    The names go from the query into the queue in one statement, never through Python: a
    purge queues 8,000 a batch, and fetching them, joining each to the folder and sending
    them back as an array cost it more than its deletes.
    """
    found = names.cte("named")
    name, refused = found.c
    queued = (
        insert(FileDeletion)
        .from_select(
            ["path", "due_at"],
            select(
                literal(_stored_prefix(os.fspath(folder), _media_root()), String) + name,
                literal(clock.now(), DateTime(timezone=True)),
            ).where(~refused),
        )
        .returning(FileDeletion.id)
        .cte("queued")
    )
    count, refusal = db.session.execute(
        select(
            select(func.count()).select_from(queued).scalar_subquery(),
            select(func.min(name)).where(refused).scalar_subquery(),
        )
    ).one()
    if count:
        send_task_after_commit(db.session(), drain_file_deletions_task, current_setting().slug)
    return count, refusal


def cancel_file_deletions(ids: Iterable[int]) -> None:
    """Keep files scheduled for deletion after all, if the current transaction commits."""
    db.session.execute(delete(FileDeletion).where(among(FileDeletion.id, list(ids))))


class _MediaFolders:
    """The folders of MEDIA_ROOT that a drain removes files from, each opened once.

    A stored path is followed only downwards from MEDIA_ROOT: a path that is absolute
    or holds ``..`` is refused, and every folder on the way is opened relative to the
    one above without following a symbolic link. So nothing outside MEDIA_ROOT can be
    removed, and no path is resolved file by file.
    """

    def __init__(self) -> None:
        self._root = _media_root()
        self._opened: dict[tuple[str, ...], int] = {}
        self._touched: set[int] = set()

    def close(self) -> None:
        for descriptor in self._opened.values():
            os.close(descriptor)

    def remove_all(self, stored: list[str], pool: ThreadPoolExecutor) -> list[bool]:
        """Remove the stored files; for each, True when it is gone (also when it already
        was, or when its path could only lead outside MEDIA_ROOT: nothing there is ours).

        Each folder is checked and opened once, here; the pool's threads then only
        remove names (the files of a purge share one folder: checking each path, as
        ``PurePosixPath`` does, cost the drain more CPU than the kernel's removals).
        """
        gone = [True] * len(stored)
        folders: dict[str, int | bool] = {}  # a descriptor, or every file's outcome
        targets: list[tuple[int, int, str]] = []  # (index in stored, folder, name)
        for index, path in enumerate(stored):
            name = path.rpartition("/")[2]
            folder = path[: len(path) - len(name)]
            if folder not in folders:
                folders[folder] = self._open(folder)
            where = folders[folder]
            if name in ("", ".", "..") or "\0" in path:
                log.error("file deletion outside MEDIA_ROOT refused: %r", path)
            elif isinstance(where, bool):
                gone[index] = where
            else:
                targets.append((index, where, name))
        self._touched.update(where for where in folders.values() if not isinstance(where, bool))
        slices = [targets[start::UNLINK_THREADS] for start in range(UNLINK_THREADS)]
        for failed in pool.map(_unlink_each, slices):
            for index in failed:
                gone[index] = False
        return gone

    def _open(self, folder: str) -> int | bool:
        """The folder's descriptor; else True when its files are gone or refused, False
        when they could not be reached (tried again later)."""
        parts = PurePosixPath(folder).parts
        if folder.startswith("/") or ".." in parts:
            log.error("file deletion outside MEDIA_ROOT refused: %r", folder)
            return True
        try:
            return self._folder(parts)
        except FileNotFoundError:
            return True
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                log.error("file deletion through a symbolic link refused: %r", folder)
                return True
            log.exception("could not open folder %s; will try again later", folder)
            return False

    def _folder(self, parts: tuple[str, ...]) -> int:
        if parts not in self._opened:
            if parts:
                above = self._folder(parts[:-1])
                self._opened[parts] = os.open(parts[-1], _FOLDER_FLAGS, dir_fd=above)
            else:
                self._opened[parts] = os.open(self._root, _FOLDER_FLAGS)
        return self._opened[parts]

    def sync(self) -> None:
        """Make the removals so far durable: a crash after the queue's rows are gone
        must not bring a file back."""
        for folder in self._touched:
            os.fsync(folder)
        self._touched.clear()


def _unlink_each(targets: list[tuple[int, int, str]]) -> list[int]:
    """Remove each (index, folder, name); returns the indexes of files still there."""
    failed = []
    for index, folder, name in targets:
        try:
            os.unlink(name, dir_fd=folder)  # never follows ``name``: a link is removed itself
        except FileNotFoundError:
            pass
        except OSError:
            log.exception("could not delete file %s; will try again later", name)
            failed.append(index)
    return failed


def drain_file_deletions() -> int:
    """Delete the bound setting's due files; returns how many were deleted.

    Commits per batch: each batch's rows go in the transaction that saw their
    files removed (and the removals synced to disk), so a crash part-way leaves
    only rows whose files may already be gone, which the next drain handles as done.
    """
    removed = 0
    folders = _MediaFolders()
    try:
        with ThreadPoolExecutor(UNLINK_THREADS) as pool:
            while rows := _due_batch():
                gone = folders.remove_all([row.path for row in rows], pool)
                folders.sync()
                done = [row.id for row, ok in zip(rows, gone, strict=True) if ok]
                failed = [row.id for row, ok in zip(rows, gone, strict=True) if not ok]
                _forget(delete(FileDeletion).where(among(FileDeletion.id, done)))
                if failed:
                    _forget(
                        update(FileDeletion)
                        .where(among(FileDeletion.id, failed))
                        .values(due_at=clock.now() + RETRY_AFTER)
                    )
                db.session.commit()
                removed += len(done)
    finally:
        folders.close()
    db.session.commit()
    return removed


def _forget(statement: Delete | Update) -> None:
    """Run the statement without keeping loaded rows in step: the drain loads none (in
    step, the ORM would have the 8,000-40,000 deleted ids sent back first)."""
    db.session.execute(statement.execution_options(synchronize_session=False))


def _due_batch() -> list:
    """The next due rows, locked (two drains at once take different rows)."""
    return list(
        db.session.execute(
            select(FileDeletion.id, FileDeletion.path)
            .where(FileDeletion.due_at <= clock.now())
            .order_by(FileDeletion.id)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)
        )
    )


@shared_task(name="storage.drain_file_deletions", ignore_result=True)
def drain_file_deletions_task(slug: str) -> None:
    """Drain one setting's queue (sent when a transaction that scheduled files commits;
    a suspended setting's too: the retention purge goes on while it is offline)."""
    with any_status_context(slug):
        drain_file_deletions()


def drain_every_setting() -> EachSettingReport:
    """The ``file-deletions`` job: drain every active or suspended setting's queue."""
    return run_each_setting(
        lambda setting: {"files deleted": drain_file_deletions()}, suspended_too=True
    )
