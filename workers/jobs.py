"""The operator's jobs: a registry of named functions, and the one Celery task that runs them.

A job is a plain function that takes no arguments and returns a one-line
summary ("2 accounts deactivated in 1 setting"), or the report of
``tenants.each_setting.run_each_setting``, which loops over the settings for it.
It works out what is due *now* from the database, works in batches and commits
per batch, so running it twice, late, or again after a crash is harmless. It
runs inside an app context (the task and the CLI both provide one) and reaches
each setting through ``run_each_setting`` or ``with tenant_context(slug):``.

Adding a job is two lines:

1. in ``JOBS`` below, name → function::

       "deactivation-sweep": "app.people.sweep:deactivation_sweep",

2. in ``WHEN`` in ``workers/schedule.py``, name → crontab line (UTC)::

       "deactivation-sweep": "15 2 * * *",

Entries name the function as ``"module:function"`` and are imported only when
the job runs, so loading the registry (every web and worker process does)
imports no feature code; ``tests/workers`` checks that every entry resolves.

Test hook: ``LJ_EXTRA_JOBS="name=module:function,..."`` adds entries in the
same form. Only the tests set it, to give a real worker a job of their own.

Every run is recorded in ``public.job_runs`` (``workers.runs``): started,
finished, outcome (succeeded, failed, skipped, died), summary, and for jobs that
use ``tenants.each_setting.run_each_setting`` what they did in each setting.
``flask --app wsgi jobs status`` prints the last run of each job.

``run_job(name)`` holds the job's lock for the whole run, so two workers (or a
worker and the operator's ``jobs run``) never run the same job at once: the
second run is recorded as skipped. The lock is a PostgreSQL advisory lock held
on a connection of the job's own, which PostgreSQL releases when that
connection ends: the lock dies with its holder, so after a worker is killed
mid-job the next run proceeds at once (and marks the dead run ``died``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pkgutil import resolve_name

from celery import shared_task
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from workers.limits import DEFAULT_TIME_LIMITS, send_options
from workers.models import Outcome
from workers.runs import (
    JobResult,
    fail_run,
    finish_run,
    last_success_since,
    mark_dead_runs,
    record_skipped,
    start_run,
)
from workers.schedule import scheduled_time

log = logging.getLogger(__name__)

Job = Callable[[], JobResult]

JOBS: dict[str, str] = {
    "deactivation-sweep": "app.people.sweep:deactivation_sweep",
    "file-deletions": "app.storage.deletions:drain_every_setting",
    "backup": "app.backups.operations:nightly_backup",
    "session-index-cleanup": "app.auth.sessions:prune_session_indexes",
    "observation-digests": "app.journal.notifications:daily_digests",
    "email-delivery": "app.mail.delivery:deliver_every_setting",
    "retention-purge": "workers.retention_purge:retention_purge",
    "spare-schemas": "tenants.spares:refill_spare_schemas",
    "photo-sweep": "app.journal.photo_processing:photo_sweep",
    "pack-sweep": "app.retention.packs:pack_sweep",
}


JOB_LOCK_SPACE = 0x4C4A
"""First key of the two-key advisory locks that jobs hold ("LJ"); the second is
the job name's hash. Other advisory locks in the project use the one-key form,
which PostgreSQL keeps apart from this one."""

EXTRA_JOBS_VARIABLE = "LJ_EXTRA_JOBS"


class UnknownJob(LookupError):
    """No job is registered under that name."""


class JobAlreadyRunning(RuntimeError):
    """Another process holds the job's lock."""


def registered_jobs() -> dict[str, str]:
    """Every job this process knows, name → ``"module:function"``."""
    jobs = dict(JOBS)
    for entry in os.environ.get(EXTRA_JOBS_VARIABLE, "").split(","):
        name, _, target = entry.partition("=")
        if name.strip() and target.strip():
            jobs[name.strip()] = target.strip()
    return jobs


def job_function(name: str) -> Job:
    """The function registered as ``name``; ``UnknownJob`` when there is none."""
    target = registered_jobs().get(name)
    if target is None:
        raise UnknownJob(name)
    function = resolve_name(target)
    if not callable(function):
        raise TypeError(f"job {name!r} names {target!r}, which is not a function")
    return function


@contextmanager
def job_lock(name: str) -> Iterator[Connection | None]:
    """Hold the job's lock for the block; yields the connection holding it, or None
    when another run holds it.

    A session-level advisory lock on a connection kept for the job alone, in
    autocommit so it never sits idle inside a transaction: PostgreSQL releases
    the lock when the connection ends, however its process ended.
    """
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        key = {"space": JOB_LOCK_SPACE, "name": name}
        acquired = connection.scalar(
            text("SELECT pg_try_advisory_lock(:space, hashtext(:name))"), key
        )
        try:
            yield connection if acquired else None
        finally:
            if acquired:
                try:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:space, hashtext(:name))"), key
                    )
                except DBAPIError:
                    # The connection broke: PostgreSQL has released the lock with it.
                    connection.invalidate()


def settle_dead_runs(name: str) -> int:
    """Mark the job's runs whose process died as ``died``, unless a run holds its lock now."""
    with job_lock(name) as lock:
        return mark_dead_runs(lock, name) if lock is not None else 0


def _record_skipped(name: str, reason: str) -> None:
    with db.engine.begin() as connection:
        record_skipped(connection, name, reason)
    log.info("job %s skipped: %s", name, reason)


@dataclass(frozen=True)
class FinishedRun:
    """What one run of a job came to: its summary, and its outcome as recorded."""

    summary: str
    outcome: Outcome


def run_job_now(name: str, *, due: datetime | None = None) -> str:
    """Run a registered job in this process under its lock (``run_and_record``); returns
    its summary."""
    return run_and_record(name, due=due).summary


def run_and_record(name: str, *, due: datetime | None = None) -> FinishedRun:
    """Run a registered job in this process under its lock; returns what this run came
    to (not the job's latest run, which another process may have started since).

    Every run is recorded in ``job_runs``. Raises ``UnknownJob``, or
    ``JobAlreadyRunning`` (recorded as skipped) when another run holds the lock.
    A run beat sent at ``due`` is skipped when the job has already succeeded
    since that scheduled time, so two beats sending it at once (or a copy
    delivered twice) run it once, however late a worker takes each copy.
    """
    job = job_function(name)
    with job_lock(name) as lock:
        if lock is None:
            _record_skipped(name, "another run holds its lock")
            raise JobAlreadyRunning(name)
        if died := mark_dead_runs(lock, name):
            log.warning("job %s: %d earlier run(s) died before finishing", name, died)
        if due is not None and (done := _already_done(lock, name, due)):
            record_skipped(lock, name, done)
            log.info("job %s skipped: %s", name, done)
            return FinishedRun("skipped", Outcome.SKIPPED)
        run_id = start_run(lock, name)
        log.info("job %s started", name)
        try:
            result = job()
        except BaseException as error:
            fail_run(lock, run_id, error)
            log.exception("job %s failed", name)
            raise
        outcome = finish_run(lock, run_id, result)
    log.info(
        "job %s finished%s: %s", name, "" if outcome == "succeeded" else " with failures", result
    )
    return FinishedRun(str(result), outcome)


def _already_done(lock: Connection, name: str, due: datetime) -> str | None:
    """Why the run of ``name`` beat sent at ``due`` has nothing to do: a run since its
    scheduled time already succeeded."""
    scheduled = scheduled_time(name, due)
    if scheduled is None:
        return None
    succeeded = last_success_since(lock, name, scheduled)
    if succeeded is None:
        return None
    return (
        f"already succeeded at {succeeded.astimezone(UTC):%H:%M:%S} for its run due at "
        f"{scheduled:%Y-%m-%d %H:%M}"
    )


@shared_task(
    name="workers.run_job",
    ignore_result=True,
    soft_time_limit=DEFAULT_TIME_LIMITS.soft,
    time_limit=DEFAULT_TIME_LIMITS.hard,
)
def run_job(name: str, due: str | None = None) -> str:
    """The one Celery task: run the job ``name`` unless another run holds its lock.

    Send it with ``send_job(name)`` (beat sends it with the same options), which
    gives the run the job's own time limits.
    """
    try:
        return run_job_now(name, due=datetime.fromisoformat(due) if due else None)
    except JobAlreadyRunning:
        return "skipped"


def send_job(name: str) -> None:
    """Ask a worker to run the job ``name`` now, with its time limits."""
    run_job.apply_async((name,), **send_options(name))
