"""When each job runs: the one place with the beat schedule.

``WHEN`` maps a job registered in ``workers.jobs.JOBS`` to a crontab line
(minute hour day-of-month month day-of-week), in UTC, the Celery app's
timezone. Beat sends ``run_job(name)`` at each time; a run that finds nothing
due does nothing, so a late or doubled run is harmless.
"""

from __future__ import annotations

from celery.schedules import crontab

WHEN: dict[str, str] = {
    # Just after midnight, so people leave at the start of their leaving date.
    "deactivation-sweep": "5 0 * * *",
}

RUN_JOB_TASK = "workers.run_job"


def beat_schedule() -> dict[str, dict[str, object]]:
    """Celery's ``beat_schedule`` setting, one entry per scheduled job."""
    return {
        name: {"task": RUN_JOB_TASK, "schedule": crontab.from_string(line), "args": (name,)}
        for name, line in WHEN.items()
    }
