"""Recording each run of a job in ``public.job_runs``, and reading the history back.

Rows are written on the connection that holds the job's lock (autocommit, so
each statement commits by itself): a run's record never depends on the job's
own transactions, and is there even when the job fails or its worker is killed.
While a process holds a job's lock no other run of that job can be going on, so
any row of that job still ``running`` belongs to a process that died: the next
holder marks it ``died`` (``mark_dead_runs``).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Row

from app import clock
from tenants.each_setting import EachSettingReport
from workers.models import JobRun, Outcome

JobResult = str | EachSettingReport
"""What a job returns: a one-line summary, or the report of ``run_each_setting``."""


def _worker() -> str:
    # Asked each time: a forked pool child has its own pid.
    return f"{socket.gethostname()} pid {os.getpid()}"


def start_run(connection: Connection, job: str) -> int:
    """Record that ``job`` starts now; returns the run's id."""
    return connection.execute(
        insert(JobRun)
        .values(job=job, started_at=clock.now(), outcome=Outcome.RUNNING, worker=_worker())
        .returning(JobRun.id)
    ).scalar_one()


def finish_run(connection: Connection, run_id: int, result: JobResult) -> Outcome:
    """Record the job's result: succeeded, or failed when any setting failed."""
    report = result if isinstance(result, EachSettingReport) else None
    outcome = Outcome.FAILED if report and not report.succeeded else Outcome.SUCCEEDED
    connection.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(
            finished_at=clock.now(),
            outcome=outcome,
            summary=str(result),
            counts=report.counts if report else None,
            errors=(report.errors or None) if report else None,
        )
    )
    return outcome


def fail_run(connection: Connection, run_id: int, error: BaseException) -> None:
    """Record that the job raised ``error``: failed, or died when its process is being
    stopped (``SystemExit`` when the pool ends a child at its hard time limit, Ctrl-C)."""
    died = not isinstance(error, Exception)
    connection.execute(
        update(JobRun)
        .where(JobRun.id == run_id)
        .values(
            finished_at=clock.now(),
            outcome=Outcome.DIED if died else Outcome.FAILED,
            summary=_describe(error),
        )
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, SoftTimeLimitExceeded):
        return "stopped at its soft time limit"
    if not isinstance(error, Exception):
        return f"its process was stopped before the job finished ({type(error).__name__})"
    return f"{type(error).__name__}: {error}"


def record_skipped(connection: Connection, job: str, reason: str) -> None:
    """Record a run that did nothing, and why."""
    moment = clock.now()
    connection.execute(
        insert(JobRun).values(
            job=job,
            started_at=moment,
            finished_at=moment,
            outcome=Outcome.SKIPPED,
            summary=reason,
            worker=_worker(),
        )
    )


def mark_dead_runs(connection: Connection, job: str) -> int:
    """Mark ``job``'s runs still ``running`` as ``died``; call only while holding its lock."""
    return connection.execute(
        update(JobRun)
        .where(JobRun.job == job, JobRun.outcome == Outcome.RUNNING)
        .values(outcome=Outcome.DIED, summary="its process ended before the job finished")
    ).rowcount


@dataclass(frozen=True)
class JobHistory:
    """The last run of a job (a ``job_runs`` row) and when it last succeeded."""

    last: Row[Any] | None
    last_success_at: datetime | None


def job_history(connection: Connection, job: str) -> JobHistory:
    runs = JobRun.__table__
    last = connection.execute(
        select(runs).where(runs.c.job == job).order_by(runs.c.started_at.desc()).limit(1)
    ).first()
    last_success_at = connection.execute(
        select(func.max(runs.c.finished_at)).where(
            runs.c.job == job, runs.c.outcome == Outcome.SUCCEEDED
        )
    ).scalar_one()
    return JobHistory(last=last, last_success_at=last_success_at)


def last_success_since(connection: Connection, job: str, moment: datetime) -> datetime | None:
    """When ``job`` last succeeded in a run started at or after ``moment``."""
    return connection.execute(
        select(func.max(JobRun.started_at)).where(
            JobRun.job == job,
            JobRun.outcome == Outcome.SUCCEEDED,
            JobRun.started_at >= moment,
        )
    ).scalar_one()


def needs_attention(history: JobHistory, every: timedelta | None, moment: datetime) -> str | None:
    """Why the operator should look at this job now, or None.

    A run that died, or a scheduled job without a success within twice its
    interval (so one late or failed night is not yet an alarm, two are).
    """
    if history.last is not None and history.last.outcome == Outcome.DIED:
        return "its last run died before finishing"
    if every is None:
        return None
    if history.last_success_at is None:
        return "it has never succeeded"
    if moment - history.last_success_at > 2 * every:
        return f"no success for more than twice its interval ({_duration(2 * every)})"
    return None


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} s"
