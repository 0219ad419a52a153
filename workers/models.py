"""The history of the operator's jobs, kept in the ``public`` schema beside the registry.

One row per run, written on the job's own lock connection (``workers.runs``),
so the record survives whatever the job's own transactions do: a run that is
still ``running`` while nobody holds its job's lock was ended by a crash and is
marked ``died``.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class Outcome(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    DIED = "died"


class JobRun(db.Model):
    """One run of a job: when, how it ended, its summary and what it did per setting."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('running', 'succeeded', 'failed', 'skipped', 'died')",
            name="outcome_known",
        ),
        Index("ix_job_runs_job_started_at", "job", "started_at"),
        {"schema": "public"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(12))
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Where it ran ("host pid 1234"): which worker to look at when a run died.
    worker: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # What the job did in each setting ({slug: {"children archived": 2}}) and the
    # settings it could not do ({slug: "error"}), for jobs that go through
    # tenants.each_setting.run_each_setting.
    counts: Mapped[dict[str, dict[str, int]] | None] = mapped_column(JSONB)
    errors: Mapped[dict[str, str] | None] = mapped_column(JSONB)
