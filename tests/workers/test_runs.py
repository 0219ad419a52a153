"""Every run of a job is recorded in ``public.job_runs``, and ``jobs status`` reads it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from tests.helpers.workers import staff_emails
from workers.jobs import job_lock, run_job_now
from workers.models import JobRun
from workers.schedule import WHEN, interval, scheduled_time


def runs_of(app, job: str) -> list[JobRun]:
    with app.app_context():
        runs = list(db.session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)))
        db.session.expunge_all()
        return runs


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_a_successful_run_is_recorded_with_its_summary(app, sample_jobs):
    before = len(runs_of(app, "record-visit"))

    assert invoke(app, "jobs", "run", "record-visit").exit_code == 0

    run = runs_of(app, "record-visit")[before]
    assert run.outcome == "succeeded"
    assert run.summary == "1 visit recorded"
    assert run.started_at <= run.finished_at
    assert run.worker


def test_a_failing_job_is_recorded_as_failed_with_its_error(app, sample_jobs):
    result = invoke(app, "jobs", "run", "always-fails")

    assert result.exit_code != 0
    run = runs_of(app, "always-fails")[-1]
    assert run.outcome == "failed"
    assert run.summary == "RuntimeError: the job's own bug"
    assert run.finished_at is not None


def test_a_run_that_finds_the_lock_held_is_recorded_as_skipped(app, sample_jobs):
    with app.app_context(), job_lock("record-visit") as lock:
        assert lock is not None
        assert invoke(app, "jobs", "run", "record-visit").exit_code != 0

    run = runs_of(app, "record-visit")[-1]
    assert run.outcome == "skipped"
    assert "holds its lock" in run.summary


def test_each_setting_runs_in_its_own_transaction_and_a_failure_stops_none(
    app, make_setting, sample_jobs, monkeypatch
):
    broken = make_setting().slug
    monkeypatch.setenv("LJ_TEST_BROKEN_SETTING", broken)

    result = invoke(app, "jobs", "run", "visit-each-setting")

    run = runs_of(app, "visit-each-setting")[-1]
    assert run.outcome == "failed"
    assert run.errors[broken] == "RuntimeError: this setting is broken"
    assert run.counts[sample_jobs] == {"visits recorded": 1}
    assert broken not in run.counts
    assert f"1 failed: {broken}" in run.summary and "visits recorded" in run.summary
    assert run.summary in result.output
    assert len(staff_emails(app, sample_jobs, "visit-%")) == 1
    assert staff_emails(app, broken, "visit-%") == [], "the failed setting kept half its work"


def test_jobs_status_shows_the_last_run_of_each_job(app, sample_jobs):
    invoke(app, "jobs", "run", "record-visit")

    result = invoke(app, "jobs", "status")

    line = next(line for line in result.output.splitlines() if line.startswith("record-visit"))
    assert "succeeded" in line and "1 visit recorded" in line
    assert "deactivation-sweep" in result.output


@pytest.fixture
def nightly(monkeypatch, sample_jobs) -> str:
    """A sample job scheduled daily at 00:05, like the real nightly jobs."""
    monkeypatch.setitem(WHEN, "nightly-visit", "5 0 * * *")
    return "nightly-visit"


def test_jobs_status_flags_a_scheduled_job_without_success_in_twice_its_interval(app, nightly):
    assert interval(nightly, clock.now()) == timedelta(days=1)
    clock.move_to(datetime(2031, 3, 1, 0, 5, tzinfo=UTC))
    assert invoke(app, "jobs", "run", nightly).exit_code == 0

    clock.advance(timedelta(days=1, hours=23))
    on_time = invoke(app, "jobs", "status")
    clock.advance(timedelta(hours=2))
    late = invoke(app, "jobs", "status")

    assert "ATTENTION" not in _section(on_time.output, nightly)
    assert late.exit_code == 1
    assert "no success for more than twice its interval (2 days)" in _section(late.output, nightly)


def test_a_scheduled_run_already_done_since_its_time_is_skipped(app, nightly, sample_jobs):
    sent = datetime(2032, 5, 10, 0, 5, 0, 300_000, tzinfo=UTC)
    clock.move_to(sent)
    with app.app_context():
        first = run_job_now(nightly, due=sent)
        clock.advance(timedelta(hours=3))  # the second beat's copy, taken late
        second = run_job_now(nightly, due=sent)
        manual = run_job_now(nightly)
        next_sent = datetime(2032, 5, 11, 0, 5, 1, tzinfo=UTC)
        clock.move_to(next_sent)
        next_night = run_job_now(nightly, due=next_sent)

    assert (first, second, manual, next_night) == (
        "1 visit recorded",
        "skipped",
        "1 visit recorded",
        "1 visit recorded",
    )
    skipped = [run for run in runs_of(app, nightly) if run.outcome == "skipped"][-1]
    assert skipped.summary.startswith("already succeeded at 00:05:00")
    assert "for its run due at 2032-05-10 00:05" in skipped.summary
    assert len(staff_emails(app, sample_jobs, "visit-%")) == 3


def _section(output: str, job: str) -> str:
    """A job's line in ``jobs status`` and the attention note under it, if any."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(job))
    following = lines[start + 1] if start + 1 < len(lines) else ""
    return lines[start] + ("\n" + following if following.startswith("    ") else "")


def test_a_run_is_due_at_the_last_time_its_crontab_line_fired(monkeypatch):
    monkeypatch.setitem(WHEN, "weekday-job", "30 6 * * 1-5")
    friday_night = datetime(2031, 5, 9, 23, 0, tzinfo=UTC)
    monday_early = datetime(2031, 5, 12, 6, 29, tzinfo=UTC)
    monday_on_time = datetime(2031, 5, 12, 6, 30, 2, tzinfo=UTC)

    assert scheduled_time("weekday-job", friday_night) == datetime(2031, 5, 9, 6, 30, tzinfo=UTC)
    assert scheduled_time("weekday-job", monday_early) == datetime(2031, 5, 9, 6, 30, tzinfo=UTC)
    assert scheduled_time("weekday-job", monday_on_time) == datetime(2031, 5, 12, 6, 30, tzinfo=UTC)
    assert scheduled_time("not-scheduled", friday_night) is None
