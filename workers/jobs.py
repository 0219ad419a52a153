"""The operator's jobs: a registry of named functions, and the one Celery task that runs them.

A job is a plain function that takes no arguments and returns a one-line
summary ("2 accounts deactivated in 1 setting"). It works out what is due *now*
from the database, works in batches and commits per batch, so running it twice,
late, or again after a crash is harmless. It runs inside an app context (the
task and the CLI both provide one) and reaches each setting with
``with tenant_context(slug):``.

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

``run_job(name)`` holds a Redis lock named after the job for the whole run, so
two workers (or a worker and the operator's ``jobs run``) never run the same job
at once: the second run is skipped with a log line. The lock expires after
``JOB_LOCK_SECONDS``, so a worker killed mid-job does not block the job for ever.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pkgutil import resolve_name

from celery import shared_task
from redis.exceptions import LockNotOwnedError

from app.redis_store import get_redis

log = logging.getLogger(__name__)

Job = Callable[[], str]

JOBS: dict[str, str] = {
    "deactivation-sweep": "app.people.sweep:deactivation_sweep",
}

JOB_LOCK_SECONDS = 60 * 60
"""The longest a job may run. Its lock expires after this, and the broker's
visibility timeout (``workers.celery_app``) is longer still, so a job redelivered
after a crash always finds its lock free."""

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
def job_lock(name: str) -> Iterator[bool]:
    """Hold the job's lock for the block; yields False when another run holds it.

    redis-py's ``Lock`` is the pattern itself: ``SET key token NX PX`` to take it,
    and a Lua compare-and-delete to release it only while the token is still ours.
    """
    lock = get_redis().lock(f"lj:job-lock:{name}", timeout=JOB_LOCK_SECONDS, blocking=False)
    acquired = lock.acquire()
    try:
        yield acquired
    finally:
        if acquired:
            try:
                lock.release()
            except LockNotOwnedError:
                log.warning(
                    "job %s ran past its %d s lock; another run may have overlapped it",
                    name,
                    JOB_LOCK_SECONDS,
                )


def run_job_now(name: str) -> str:
    """Run a registered job in this process under its lock; returns its summary.

    Raises ``UnknownJob``, or ``JobAlreadyRunning`` when another run holds the lock.
    """
    job = job_function(name)
    with job_lock(name) as acquired:
        if not acquired:
            raise JobAlreadyRunning(name)
        log.info("job %s started", name)
        summary = job()
    log.info("job %s finished: %s", name, summary)
    return summary


@shared_task(name="workers.run_job", ignore_result=True, time_limit=JOB_LOCK_SECONDS)
def run_job(name: str) -> str:
    """The one Celery task: run the job ``name`` unless another run holds its lock."""
    try:
        return run_job_now(name)
    except JobAlreadyRunning:
        log.info("job %s skipped: another run holds its lock", name)
        return "skipped"
