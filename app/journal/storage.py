"""Photo files on disk, under ``MEDIA_ROOT/<setting slug>/``, kept in step with the database.

A file is written under a random name to a temporary file in the same folder and
renamed into place, so a reader never sees half a photo. Files belong to the database
transaction that wrote them: when that transaction rolls back (or is closed without a
commit) they are removed again, and files of deleted photos go through the durable
deletion queue (``app.storage.deletions``), removed only once the deletion has been
committed. So a failure leaves neither orphan files nor rows that
name a missing file.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import db
from app.storage.deletions import schedule_file_deletion
from tenants.binding import current_setting

log = logging.getLogger(__name__)

_WRITTEN = "journal_media_written"  # session.info: files to remove if the transaction fails


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


def store(data: bytes, extension: str) -> str:
    """Write ``data`` under a new random name, as part of the current transaction.

    Returns the file name. If the transaction does not commit, the file is removed.
    """
    session = db.session()
    session.connection()  # the file joins a transaction that is surely open
    folder = setting_folder()
    folder.mkdir(parents=True, exist_ok=True, mode=0o750)
    name = f"{secrets.token_urlsafe(24)}.{extension}"
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    session.info.setdefault(_WRITTEN, []).append(folder / name)
    return name


def remove_after_commit(*names: str) -> None:
    """Delete stored files once the current transaction has committed (never before).

    Through the durable queue (``app.storage.deletions``): a crash after the
    commit cannot leave the files behind.
    """
    schedule_file_deletion(setting_folder() / _valid_name(name) for name in names)


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.exception("could not remove photo file %s", path)


@event.listens_for(Session, "after_commit")
def _keep_written(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_transaction_end")
def _remove_written_unless_committed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None or transaction.nested:
        return  # a savepoint or subtransaction: the outer transaction decides
    # After a commit, after_commit has already taken the list; whatever is left
    # belongs to a transaction that rolled back or was closed without committing.
    _unlink_all(session.info.pop(_WRITTEN, []))
