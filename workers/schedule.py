"""When each job runs: the one place with the beat schedule.

``WHEN`` maps a job registered in ``workers.jobs.JOBS`` to a crontab line
(minute hour day-of-month month day-of-week), in UTC, the Celery app's
timezone. Beat sends ``run_job(name)`` at each time; a run that finds nothing
due does nothing, so a late or doubled run is harmless.

``interval(name)`` is the time between two of a job's runs; ``jobs status``
flags a job that has not succeeded within twice that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta

from celery.beat import BeatLazyFunc
from celery.schedules import crontab

from app import clock
from workers.limits import send_options

WHEN: dict[str, str] = {
    # Every hour: each setting's leaving dates are days of its own time zone, so a
    # setting's midnight comes at a different UTC hour; a sweep finding nobody due does
    # nothing. People leave within the first hour of their leaving date, wherever they are.
    "deactivation-sweep": "5 * * * *",
    # Files are deleted at once by a task sent at each commit; this catches any
    # whose task was lost (broker down, worker killed).
    "file-deletions": "*/15 * * * *",
    # Backup, then verify it and rotate, at night when nobody writes journals.
    "backup": "30 2 * * *",
    # Sessions expire by themselves in Redis; this drops them from the per-user indexes.
    "session-index-cleanup": "15 3 * * *",
    # Parents' daily email about new observations, once the nursery day is over: every
    # hour, and each setting sends at 17:00 of its own time zone (once a day).
    "observation-digests": "0 * * * *",
    # Mail goes out at once from a task sent at each commit, and the worker
    # schedules its own retries; this delivers whatever a lost task left due.
    "email-delivery": "*/5 * * * *",
    # After the deactivation sweep, so people who left today start their periods first.
    "retention-purge": "30 1 * * *",
    # Keeps SPARE_SCHEMAS settings' schemas built ahead of provisioning (tenants.spares);
    # also sent after each provisioning, so this only catches a lost send or a new release.
    "spare-schemas": "* * * * *",
    # Photos are processed by a task sent at each upload's commit (or on their first
    # fetch); this processes any whose task was lost (broker down, worker killed).
    "photo-sweep": "*/5 * * * *",
    "pack-sweep": "*/5 * * * *",
}

RUN_JOB_TASK = "workers.run_job"
SEARCH_DAYS = 400  # a crontab line fires at least once a year, or never

TEST_SCHEDULE_VARIABLE = "LJ_SCHEDULE_EVERY_SECONDS"
"""Tests only: run every scheduled job every N seconds instead of at its crontab
times, so a test can watch beat fire each of them."""


def _test_period() -> timedelta | None:
    seconds = os.environ.get(TEST_SCHEDULE_VARIABLE, "")
    return timedelta(seconds=float(seconds)) if seconds else None


def _now_iso() -> str:
    return clock.now().isoformat()


def beat_schedule() -> dict[str, dict[str, object]]:
    """Celery's ``beat_schedule`` setting, one entry per scheduled job.

    Each run beat sends carries ``due``, the time beat sent it (evaluated at each
    send: ``BeatLazyFunc``), so the run knows which scheduled time it is for
    however late a worker takes it (see ``workers.jobs.run_job_now``); and the
    job's time limits.
    """
    period = _test_period()
    return {
        name: {
            "task": RUN_JOB_TASK,
            "schedule": period or crontab.from_string(line),
            "args": (name,),
            "kwargs": {"due": BeatLazyFunc(_now_iso)},
            "options": send_options(name),
        }
        for name, line in WHEN.items()
    }


def _fires_on(line: crontab, day: datetime) -> bool:
    return (
        day.month in line.month_of_year
        and day.day in line.day_of_month
        and day.isoweekday() % 7 in line.day_of_week  # crontab counts from Sunday = 0
    )


def _times_on(line: crontab, day: datetime) -> list[datetime]:
    """The times ``line`` fires on ``day`` (a midnight), in order."""
    if not _fires_on(line, day):
        return []
    return [
        day.replace(hour=hour, minute=minute)
        for hour in sorted(line.hour)
        for minute in sorted(line.minute)
    ]


def _fire_times_from(line: crontab, moment: datetime) -> Iterator[datetime]:
    """The times ``line`` fires at or after ``moment``, in order."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    for days in range(SEARCH_DAYS):
        yield from (
            fire for fire in _times_on(line, midnight + timedelta(days=days)) if fire >= moment
        )


def _last_fire_time(line: crontab, moment: datetime) -> datetime | None:
    """The last time ``line`` fired at or before ``moment``."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    for days in range(SEARCH_DAYS):
        earlier = [f for f in _times_on(line, midnight - timedelta(days=days)) if f <= moment]
        if earlier:
            return earlier[-1]
    return None


def interval(name: str, moment: datetime) -> timedelta | None:
    """The time between the next two runs of the job ``name`` after ``moment``;
    None when it is not scheduled."""
    line = WHEN.get(name)
    if line is None:
        return None
    fires = _fire_times_from(crontab.from_string(line), moment)
    first = next(fires, None)
    second = next(fires, None)
    return second - first if first and second else None


def scheduled_time(name: str, moment: datetime) -> datetime | None:
    """The scheduled time of ``name``'s run that beat sent at ``moment``: its crontab's
    last time at or before ``moment``; None when the job is not scheduled.

    Under the test schedule, beat fires every period from whenever it started, so
    the scheduled time is taken as half a period before ``moment``: the run a
    period ago is not this one, a run sent at the same moment is.
    """
    line = WHEN.get(name)
    if line is None:
        return None
    period = _test_period()
    if period is not None:
        return moment - period / 2
    return _last_fire_time(crontab.from_string(line), moment)
