"""How long each job may run: Celery's soft and hard time limits, per job.

The limits travel with each message (``send_options``): beat's schedule and
``send_job`` put them on every run they send. They are enforced by the
worker's prefork pool (``celery worker --pool prefork``), which runs each job in
a child process it can interrupt and kill; the solo pool would ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeLimits:
    """Seconds a job may run: at ``soft`` it is asked to stop (``SoftTimeLimitExceeded``
    is raised inside it, and the run is recorded as failed); at ``hard`` its worker
    process is killed (the run is then recorded as died)."""

    soft: int
    hard: int


DEFAULT_TIME_LIMITS = TimeLimits(soft=25 * 60, hard=30 * 60)
TIME_LIMITS: dict[str, TimeLimits] = {
    # pg_dump of 1,000 settings takes about half a minute, but media grows without bound.
    "backup": TimeLimits(soft=170 * 60, hard=180 * 60),
}
"""Jobs that need more (or less) than ``DEFAULT_TIME_LIMITS``."""


def time_limits(name: str) -> TimeLimits:
    return TIME_LIMITS.get(name, DEFAULT_TIME_LIMITS)


def longest_time_limit() -> int:
    """The longest any job may run (its hard limit); the broker's visibility timeout
    (``workers.celery_app``) must be longer still."""
    return max(limits.hard for limits in (DEFAULT_TIME_LIMITS, *TIME_LIMITS.values()))


def send_options(name: str) -> dict[str, int]:
    """Celery's ``apply_async`` options that give a run of ``name`` its time limits."""
    limits = time_limits(name)
    return {"soft_time_limit": limits.soft, "time_limit": limits.hard}
