"""The queue of files to delete, in each setting's schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from tenants.schema import TenantModel

FILE_PATH_LENGTH = 500


class FileDeletion(TenantModel):
    """A file to delete once ``due_at`` has passed.

    The row is written in the transaction that makes the file garbage, so it
    exists exactly when that change was committed; the file goes afterwards,
    and a crash in between leaves the row to finish the job. ``path`` is
    relative to ``MEDIA_ROOT``, so moving the media folder moves the queue too.
    """

    __tablename__ = "file_deletions"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(FILE_PATH_LENGTH))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
