"""A real Celery worker runs the jobs sent to it, one run at a time, and a crash loses no batch."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select, text

from app import clock
from app.extensions import db
from tests.helpers.workers import staff_emails, wait_until
from tests.workers.sample_jobs import BATCH_SIZE, BATCHES, batch_email
from workers.jobs import run_job, settle_dead_runs
from workers.models import JobRun


def test_a_worker_runs_a_job_sent_with_delay(app, make_setting, start_worker):
    slug = make_setting().slug
    worker = start_worker(slug)
    worker.wait_ready()

    run_job.delay("record-visit")

    wait_until(lambda: staff_emails(app, slug, "visit-%"), 15, "the job's row")
    worker.wait_for_log("job record-visit finished: 1 visit recorded")
    assert len(staff_emails(app, slug, "visit-%")) == 1


def test_two_workers_given_the_same_job_at_once_run_it_once(app, make_setting, start_worker):
    slug = make_setting().slug
    workers = [start_worker(slug, "first"), start_worker(slug, "second")]
    for worker in workers:
        worker.wait_ready()

    run_job.delay("slow-visit")
    run_job.delay("slow-visit")

    logs = lambda: "".join(worker.log() for worker in workers)  # noqa: E731
    wait_until(lambda: "job slow-visit finished" in logs(), 15, "the job to finish")
    wait_until(lambda: "job slow-visit skipped" in logs(), 5, "the second run to be skipped")
    assert logs().count("job slow-visit started") == 1
    assert len(staff_emails(app, slug, "visit-%")) == 1


def _transaction_open_elsewhere() -> bool:
    with db.engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        )


def _kill_in_the_middle_of_fill_batches(app, slug: str, worker) -> None:
    """Send fill-batches to ``worker`` and SIGKILL it inside its third batch or later."""
    run_job.delay("fill-batches")
    wait_until(
        lambda: len(staff_emails(app, slug, "batch%")) >= 2 * BATCH_SIZE,
        15,
        "two batches to be committed",
    )
    with app.app_context():
        wait_until(_transaction_open_elsewhere, 5, "the worker to be inside a batch")
    worker.kill()


def test_a_worker_killed_mid_job_leaves_every_batch_whole_and_a_rerun_finishes(
    app, make_setting, start_worker, monkeypatch
):
    slug = make_setting().slug
    worker = start_worker(slug)
    worker.wait_ready()
    written = lambda: staff_emails(app, slug, "batch%")  # noqa: E731

    _kill_in_the_middle_of_fill_batches(app, slug, worker)

    kept = written()
    assert BATCH_SIZE * 2 <= len(kept) < BATCH_SIZE * BATCHES
    assert len(kept) % BATCH_SIZE == 0, "a batch was left half-written"
    with app.app_context():
        wait_until(lambda: not _transaction_open_elsewhere(), 5, "PostgreSQL to see it gone")

    # The dead worker's lock died with its connection: the operator's run proceeds.
    monkeypatch.setenv("LJ_EXTRA_JOBS", worker.env["LJ_EXTRA_JOBS"])
    monkeypatch.setenv("LJ_TEST_SETTING", slug)
    status = app.test_cli_runner().invoke(args=["jobs", "status"])
    result = app.test_cli_runner().invoke(args=["jobs", "run", "fill-batches"])

    assert result.exit_code == 0, result.output
    remaining = BATCHES - len(kept) // BATCH_SIZE
    assert f"fill-batches: {remaining} batches written" in result.output
    expected = {batch_email(b, r) for b in range(BATCHES) for r in range(BATCH_SIZE)}
    assert set(written()) == expected
    assert status.exit_code == 1
    assert "fill-batches                 died" in status.output
    assert "ATTENTION: its last run died before finishing" in status.output


def test_the_deactivation_sweep_runs_in_a_real_worker(app, make_setting, start_worker):
    """The scheduled job as beat sends it: a member of staff whose leaving date has come is
    deactivated by a worker process, and their open session is refused."""
    from sqlalchemy import select

    from app import clock
    from app.auth.models import AccountStatus, User
    from app.people.models import StaffMember
    from tenants.binding import tenant_context
    from tests.helpers.clients import client_for, make_user, sign_in

    slug = make_setting().slug
    with app.app_context():
        email = make_user(slug, role="staff", full_name="Leaving Lee")
        with tenant_context(slug):
            user = db.session.scalar(select(User).where(User.email == email))
            db.session.add(StaffMember(user_id=user.id, leaving_date=clock.today()))
            db.session.commit()
    session = client_for(app, slug)
    sign_in(session, email)
    assert session.get("/account").status_code == 200

    worker = start_worker(slug)
    worker.wait_ready()
    run_job.delay("deactivation-sweep")
    worker.wait_for_log("job deactivation-sweep finished", timeout=60)

    def status() -> AccountStatus:
        with app.app_context(), tenant_context(slug):
            return db.session.scalar(select(User.status).where(User.email == email))

    assert status() is AccountStatus.DEACTIVATED
    assert session.get("/account").status_code == 302


def test_files_scheduled_for_deletion_are_deleted_by_a_real_worker_after_commit(
    app, make_setting, start_worker
):
    from pathlib import Path

    from app.storage.deletions import schedule_file_deletion
    from tenants.binding import tenant_context

    slug = make_setting().slug
    folder = Path(app.config["LJ"].MEDIA_ROOT) / slug
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "old-photo.jpg"
    path.write_bytes(b"photo")
    worker = start_worker(slug)
    worker.wait_ready()

    with app.app_context(), tenant_context(slug):
        schedule_file_deletion([path])
        db.session.commit()

    wait_until(lambda: not path.exists(), 15, "the worker to delete the file")


def _outcomes_since(app, job: str, moment) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(JobRun.outcome)
                .where(JobRun.job == job, JobRun.started_at >= moment)
                .order_by(JobRun.id)
            )
        )


def test_the_task_of_a_killed_worker_is_delivered_again_and_finishes_only_what_was_left(
    app, make_setting, start_worker
):
    slug = make_setting().slug
    started = clock.now()
    # The broker hands an unacknowledged task to another worker after 4 s here
    # (after the longest job's hard limit in production).
    short_visibility = {"LJ_VISIBILITY_TIMEOUT": "4"}
    first = start_worker(slug, "first", **short_visibility)
    first.wait_ready()
    written = lambda: staff_emails(app, slug, "batch%")  # noqa: E731
    _kill_in_the_middle_of_fill_batches(app, slug, first)

    kept = len(written())
    second = start_worker(slug, "second", **short_visibility)
    second.wait_ready()

    second.wait_for_log("job fill-batches finished", timeout=30)
    assert f"{BATCHES - kept // BATCH_SIZE} batches written" in second.log()
    expected = {batch_email(b, r) for b in range(BATCHES) for r in range(BATCH_SIZE)}
    assert sorted(written()) == sorted(expected), "a batch was lost or written twice"
    assert _outcomes_since(app, "fill-batches", started) == ["died", "succeeded"]


@pytest.fixture
def fresh_worker(make_setting, start_worker):
    """A ready worker acting on a fresh setting: (slug, when the test started, worker)."""
    slug = make_setting().slug
    started = clock.now()
    worker = start_worker(slug)
    worker.wait_ready()
    return slug, started, worker


def test_a_job_past_its_soft_time_limit_is_stopped_and_recorded_as_failed(app, fresh_worker):
    slug, started, worker = fresh_worker

    run_job.apply_async(("slow-visit",), soft_time_limit=0.3, time_limit=30)

    worker.wait_for_log("job slow-visit failed")
    assert _outcomes_since(app, "slow-visit", started) == ["failed"]
    assert staff_emails(app, slug, "visit-%") == []
    status = app.test_cli_runner().invoke(args=["jobs", "status"], env=worker.env)
    assert "stopped at its soft time limit" in status.output


def test_a_job_past_its_hard_time_limit_is_killed_recorded_as_died_and_the_worker_goes_on(
    app, fresh_worker
):
    slug, started, worker = fresh_worker
    run_job.apply_async(("stubborn-visit",), soft_time_limit=0.2, time_limit=0.6)
    worker.wait_for_log("Hard time limit")
    run_job.delay("record-visit")
    worker.wait_for_log("job record-visit finished")

    with app.app_context():
        settle_dead_runs("stubborn-visit")
    assert _outcomes_since(app, "stubborn-visit", started) == ["died"]
    assert len(staff_emails(app, slug, "visit-%")) == 1, "only record-visit's row"


def test_a_worker_builds_again_the_spare_schema_a_provisioning_took(
    app, make_setting, start_worker
):
    """The refill provisioning sends once it has committed, run by a worker process."""
    from tenants.spares import ready_spares, refill

    with app.app_context():
        refill(db.engine, app.config["LJ"].SPARE_SCHEMAS)
    slug = make_setting().slug  # took a spare; its refill waits in the broker
    with app.app_context(), db.engine.connect() as connection:
        assert ready_spares(connection) == app.config["LJ"].SPARE_SCHEMAS - 1
    worker = start_worker(slug)
    worker.wait_ready()

    worker.wait_for_log("job spare-schemas finished: 1 spare schemas built, 0 dropped: 3 ready")
    with app.app_context(), db.engine.connect() as connection:
        assert ready_spares(connection) == 3
        run = connection.execute(
            select(JobRun.outcome, JobRun.worker)
            .where(JobRun.job == "spare-schemas")
            .order_by(JobRun.id.desc())
            .limit(1)
        ).one()
    assert run.outcome == "succeeded"
    assert not run.worker.endswith(f"pid {os.getpid()}"), "it ran here, not in the worker"


def test_the_tasks_are_bound_before_gunicorn_forks_its_web_workers(app):
    # gunicorn builds the app once and forks its workers from it (preload_app). Bound
    # lazily, Celery made each web worker import its loader and bind every task at its first
    # send: the first photo upload of each upload worker took that too (bench/README.md,
    # "Load and faults: figures").
    celery = app.extensions["celery"]

    assert celery.finalized
    assert "journal.process_photo" in celery.tasks
