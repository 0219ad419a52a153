"""Beat fires every scheduled job (here every few seconds) in a service of its own; two beats
firing at once still run each job once per scheduled time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import redis
from sqlalchemy import select

from app import clock
from app.extensions import db
from tests.helpers.workers import wait_until
from workers.models import JobRun
from workers.schedule import WHEN

PERIOD = 8
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def runs_since(service, moment) -> list[JobRun]:
    with service.app.app_context():
        runs = list(
            db.session.scalars(
                select(JobRun).where(JobRun.started_at >= moment).order_by(JobRun.started_at)
            )
        )
        db.session.expunge_all()
        return runs


def worker_is_done(service) -> bool:
    """No task waits in the broker or runs unacknowledged, and no run is still going."""
    broker = redis.Redis.from_url(service.app.config["LJ"].REDIS_URL)
    waiting = broker.llen("celery") + broker.hlen("unacked")
    return not waiting and not [run for run in runs_since(service, LONG_AGO) if not run.finished_at]


def test_two_beats_fire_every_scheduled_job_and_each_runs_once_per_time(service, start_worker):
    service.family("sunnyside")
    every_few_seconds = {"LJ_SCHEDULE_EVERY_SECONDS": str(PERIOD)}
    worker = start_worker("sunnyside", **every_few_seconds)
    worker.wait_ready()
    started = clock.now()
    beats = [
        start_worker("sunnyside", f"beat-{number}", beat=True, **every_few_seconds)
        for number in (1, 2)
    ]

    def each_job_ran_and_was_skipped_once() -> bool:
        runs = runs_since(service, started)
        return all(
            {"succeeded", "skipped"} <= {run.outcome for run in runs if run.job == name}
            for name in WHEN
        )

    wait_until(each_job_ran_and_was_skipped_once, 120, "every job to run and be skipped")
    for beat in beats:
        beat.kill()
    # The worker finishes what the beats sent (on a busy machine a job may have just been
    # fired again): then each job's last run has an outcome.
    wait_until(lambda: worker_is_done(service), 120, "the worker to finish every task sent")

    status = service.cli("jobs", "status")
    runs = runs_since(service, started)
    for name in WHEN:
        line = next(line for line in status.output.splitlines() if line.startswith(name))
        assert "succeeded" in line or "skipped" in line, line
        succeeded = [
            run.started_at for run in runs if run.job == name and run.outcome == "succeeded"
        ]
        gaps = [later - earlier for earlier, later in pairwise(succeeded)]
        assert all(gap > timedelta(seconds=PERIOD / 2) for gap in gaps), (name, succeeded)
    assert not [run for run in runs if run.outcome in ("failed", "died")], [
        (run.job, run.summary) for run in runs if run.outcome in ("failed", "died")
    ]
