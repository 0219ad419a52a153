"""Legal holds (a person whose records must not be purged) and leaving packs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.labels import LabelledEnum
from tenants.schema import TenantModel, text_enum

HOLD_REASON_LENGTH = 500


class LegalHold(TenantModel):
    """A hold on one child's or one account's records, with the manager's reason.

    The purge (button or job) leaves a held person alone. Lifting the hold deletes the
    row; the audit log keeps the fact of both.
    """

    __tablename__ = "legal_holds"
    __table_args__ = (
        CheckConstraint("(child_id IS NULL) <> (user_id IS NULL)", name="one_person"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int | None] = mapped_column(
        ForeignKey("children.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    reason: Mapped[str] = mapped_column(String(HOLD_REASON_LENGTH))
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PackStatus(LabelledEnum):
    QUEUED = "queued", "Waiting to start"
    BUILDING = "building", "Being made"
    READY = "ready", "Ready"
    FAILED = "failed", "Could not be made"


class LeavingPack(TenantModel):
    """A child's whole journal as one person sees it: a PDF, a ZIP of photos and a JSON file.

    Built by a Celery task (``app.retention.packs``) under ``MEDIA_ROOT/<setting>/packs/``
    with names starting ``file_stem``; only the person who asked for it may download it,
    signed in, until ``expires_at``.
    """

    __tablename__ = "leaving_packs"

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[PackStatus] = mapped_column(
        text_enum(PackStatus, "pack_status"), default=PackStatus.QUEUED
    )
    progress: Mapped[int] = mapped_column(Integer, default=0)  # per cent
    file_stem: Mapped[str] = mapped_column(String(40), unique=True)
    observations: Mapped[int] = mapped_column(Integer, default=0)
    photos: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
