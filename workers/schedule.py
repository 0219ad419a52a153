"""When each job runs: the one place with the beat schedule.

``WHEN`` maps a job registered in ``workers.jobs.JOBS`` to a crontab line
(minute hour day-of-month month day-of-week), in UTC, the Celery app's
timezone. Beat sends ``run_job(name)`` at each time; a run that finds nothing
due does nothing, so a late or doubled run is harmless.

``interval(name)`` is the time between two of a job's runs; ``jobs status``
flags a job that has not succeeded within twice that.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from celery.schedules import crontab

WHEN: dict[str, str] = {
    # Just after midnight, so people leave at the start of their leaving date.
    "deactivation-sweep": "5 0 * * *",
    # Files are deleted at once by a task sent at each commit; this catches any
    # whose task was lost (broker down, worker killed).
    "file-deletions": "*/15 * * * *",
}

RUN_JOB_TASK = "workers.run_job"
SEARCH_DAYS = 400  # a crontab line fires at least once a year, or never


def beat_schedule() -> dict[str, dict[str, object]]:
    """Celery's ``beat_schedule`` setting, one entry per scheduled job."""
    return {
        name: {"task": RUN_JOB_TASK, "schedule": crontab.from_string(line), "args": (name,)}
        for name, line in WHEN.items()
    }


def _fires_on(line: crontab, day: datetime) -> bool:
    return (
        day.month in line.month_of_year
        and day.day in line.day_of_month
        and day.isoweekday() % 7 in line.day_of_week  # crontab counts from Sunday = 0
    )


def _fire_times_from(line: crontab, moment: datetime) -> Iterator[datetime]:
    """The times ``line`` fires at or after ``moment`` (to the minute), in order."""
    start = moment.replace(second=0, microsecond=0)
    if start < moment:
        start += timedelta(minutes=1)
    midnight = start.replace(hour=0, minute=0)
    for days in range(SEARCH_DAYS):
        day = midnight + timedelta(days=days)
        if not _fires_on(line, day):
            continue
        for hour in sorted(line.hour):
            for minute in sorted(line.minute):
                fire = day.replace(hour=hour, minute=minute)
                if fire >= start:
                    yield fire


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
