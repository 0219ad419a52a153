"""Photo files on disk, under ``MEDIA_ROOT/<setting slug>/``, kept in step with the database.

A file is written under a random name to a temporary file in the same folder and
renamed into place, so a reader never sees half a photo; its bytes and then the folder
(once for all the files of an upload) are flushed to disk before the transaction that names
them can commit, so a committed row never names a file a crash lost. Files belong to the database
transaction that wrote them: when that transaction rolls back (or is closed without a
commit) they are removed again, and files of deleted photos go through the durable
deletion queue (``app.storage.deletions``), removed only once the deletion has been
committed. A process killed mid-upload runs no rollback: so before writing, ``store``
commits (on its own) a deletion of the new file due an hour later, and the upload's
transaction cancels it as it names the file. Whatever happens, there are either a row
and its files, or a record that removes the files; never an orphan no purge would find.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session, SessionTransaction

from app import clock
from app.extensions import db
from app.storage.deletions import (
    cancel_file_deletions,
    schedule_file_deletion,
    schedule_files_named,
)
from app.storage.durable import fsync_folder
from tenants.binding import current_setting

log = logging.getLogger(__name__)

_WRITTEN = "journal_media_written"  # session.info: files to remove if the transaction fails
INCOMING_PREFIX = ".incoming-"  # a file being written; renamed into place once whole
ABANDONED_AFTER = timedelta(hours=1)  # an upload not committed by then never will be
WAITING_FOLDER = ".waiting"  # under MEDIA_ROOT: uploads not yet processed, per setting


class MediaMissing(LookupError):
    """The database names a photo file that is not on disk."""


def setting_folder(slug: str | None = None) -> Path:
    """The folder of the current setting's photos (or of ``slug``'s)."""
    root: Path = current_app.config["LJ"].MEDIA_ROOT
    return root / (slug or current_setting().slug)


def _valid_name(name: str) -> str:
    # Names come from our own rows, but a path must never climb out of the folder.
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise MediaMissing(name)
    return name


def path_of(name: str) -> Path:
    """Where a stored file of the current setting lives."""
    path = setting_folder() / _valid_name(name)
    if not path.is_file():
        raise MediaMissing(name)
    return path


def all_stored(*names: str) -> bool:
    """Whether every one of the current setting's files ``names`` is on disk."""
    try:
        return all(path_of(name) for name in names)
    except MediaMissing:
        return False


def store(data: bytes, extension: str) -> str:
    """Write ``data`` under a new random name, as part of the current transaction.

    Returns the file name. If the transaction does not commit, the file is removed:
    at once when it rolls back, and within ``ABANDONED_AFTER`` plus the
    ``file-deletions`` job's interval when the process dies first (killed mid-upload).
    """
    [name] = store_all([data], extension)
    return name


def store_all(contents: Sequence[bytes], extension: str) -> list[str]:
    """``store`` for several files (a photo and its thumbnail) with one committed record
    of their deletion for them all: a commit of its own each would be a round trip and a
    flush of PostgreSQL's log more for every file."""
    names = [new_name(extension) for _ in contents]
    _store_in(setting_folder(), dict(zip(names, contents, strict=True)))
    return names


def new_name(extension: str) -> str:
    """A random file name that says nothing of its content."""
    return f"{secrets.token_urlsafe(24)}.{extension}"


def store_named(contents: dict[str, bytes]) -> None:
    """``store_all`` under names chosen beforehand (a waiting photo's, given at upload)."""
    _store_in(setting_folder(), {_valid_name(name): data for name, data in contents.items()})


def waiting_folder(slug: str | None = None) -> Path:
    """Where uploads wait to be processed: beside the settings' folders, never inside one,
    so nothing that serves or exports a setting's photos can reach the uploaded bytes."""
    root: Path = current_app.config["LJ"].MEDIA_ROOT
    return root / WAITING_FOLDER / (slug or current_setting().slug)


def store_waiting(name: str, data: bytes) -> None:
    """Keep an upload's bytes, as they came, until its photo is processed (``store``'s
    guarantees: on disk before the commit, gone again if the transaction does not commit)."""
    _store_in(waiting_folder(), {_valid_name(name): data})


def waiting_bytes(name: str) -> bytes | None:
    """The waiting upload named ``name``; None when it is not there (lost with a restore)."""
    try:
        return (waiting_folder() / _valid_name(name)).read_bytes()
    except (FileNotFoundError, MediaMissing):
        return None


def remove_waiting_after_commit(*names: str) -> None:
    """``remove_after_commit`` for waiting uploads."""
    folder = f"{waiting_folder()}/"
    schedule_file_deletion(folder + _valid_name(name) for name in names)


def _store_in(folder: Path, contents: dict[str, bytes]) -> None:
    session = db.session()
    session.connection()  # the files join a transaction that is surely open
    folder = _existing_folder(folder)
    names = list(contents)
    paths = [(folder / name, folder / f"{INCOMING_PREFIX}{name}") for name in names]
    cancel_when_kept = _record_deletion_unless_kept([path for pair in paths for path in pair])
    for data, (final, temporary) in zip(contents.values(), paths, strict=True):
        _write_whole(data, final, temporary)
        session.info.setdefault(_WRITTEN, []).append(final)
    # Each file's bytes are on disk; their names are once the folder is flushed too (a
    # rename lives in the folder): one flush for all the files, before the transaction
    # that names them can commit.
    fsync_folder(folder)
    # Kept if, and only if, the transaction that names the files commits.
    cancel_file_deletions(cancel_when_kept)


def _existing_folder(folder: Path) -> Path:
    """``folder``, made (with its parents) if missing, and its own name flushed to disk
    then: a setting's first photo must not vanish with a folder a crash forgot."""
    if not folder.is_dir():
        _existing_folder(folder.parent)  # MEDIA_ROOT/.waiting, for a first waiting upload
        folder.mkdir(exist_ok=True, mode=0o750)
        fsync_folder(folder.parent)
    return folder


def _write_whole(data: bytes, final: Path, temporary: Path) -> None:
    """``data`` on disk at ``final`` (its bytes flushed), never seen there half-written."""
    try:
        with temporary.open("xb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _record_deletion_unless_kept(paths: list[Path]) -> list[int]:
    """Before a byte is written: schedule the files' deletion for later, committed in a
    transaction of its own, so that a process killed before the upload's commit leaves
    a record the ``file-deletions`` job acts on, not an orphan no row names."""
    with Session(db.engine) as session, session.begin():
        return schedule_file_deletion(paths, due_at=clock.now() + ABANDONED_AFTER, session=session)


def remove_after_commit(*names: str) -> None:
    """Delete stored files once the current transaction has committed (never before).

    Through the durable queue (``app.storage.deletions``): a crash after the
    commit cannot leave the files behind.
    """
    folder = f"{setting_folder()}/"  # joined as text
    schedule_file_deletion(folder + _valid_name(name) for name in names)


def remove_named_after_commit(names: Select[tuple[str]], *, waiting: bool = False) -> int:
    """``remove_after_commit`` of the stored files whose names the query selects (a
    purge's thousands of photos), without taking the names through Python; returns how
    many files were queued. A name ``_valid_name`` would refuse stops it. ``waiting``:
    the names are of uploads in the waiting folder."""
    name = names.subquery().c[0]
    plain = name.regexp_match(r"^[^./\\][^/\\]*$")  # _valid_name's rule
    folder = waiting_folder() if waiting else setting_folder()
    queued, refused = schedule_files_named(folder, select(name, ~plain | name.is_(None)))
    if refused is not None:
        raise MediaMissing(refused)
    return queued


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.exception("could not remove photo file %s", path)


@event.listens_for(Session, "after_commit")
def _keep_written(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's end: the outer transaction decides
    session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_transaction_end")
def _remove_written_unless_committed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None or transaction.nested:
        return  # a savepoint or subtransaction: the outer transaction decides
    # After a commit, after_commit has already taken the list; whatever is left
    # belongs to a transaction that rolled back or was closed without committing.
    _unlink_all(session.info.pop(_WRITTEN, []))
