"""The job registry, its schedule, the broker settings and the operator's ``jobs`` commands."""

from __future__ import annotations

import os
import signal

import redis
from kombu import Connection

from app.devservers import embedded_redis
from tests.helpers.workers import staff_emails
from workers.celery_app import VISIBILITY_TIMEOUT, broker_url
from workers.jobs import JOBS, job_function, job_lock
from workers.limits import longest_time_limit, time_limits
from workers.schedule import RUN_JOB_TASK, WHEN, beat_schedule


def test_every_registered_job_names_a_function():
    for name in JOBS:
        assert callable(job_function(name)), name


def test_every_scheduled_job_is_registered_and_sent_to_run_job(app):
    assert set(WHEN) <= set(JOBS)
    schedule = beat_schedule()
    assert set(schedule) == set(WHEN)
    for name, entry in schedule.items():
        assert entry["task"] == RUN_JOB_TASK and entry["args"] == (name,)
        assert set(entry["kwargs"]) == {"due"}, "beat tells each run when it was sent"
        limits = time_limits(name)
        assert 0 < limits.soft < limits.hard
        assert entry["options"] == {"soft_time_limit": limits.soft, "time_limit": limits.hard}
    assert RUN_JOB_TASK in app.extensions["celery"].tasks


def test_the_broker_redelivers_a_task_only_after_it_would_have_been_stopped(app):
    conf = app.extensions["celery"].conf
    assert conf.broker_transport_options["visibility_timeout"] == VISIBILITY_TIMEOUT
    assert longest_time_limit() < VISIBILITY_TIMEOUT
    assert conf.task_acks_late and conf.worker_prefetch_multiplier == 1


def test_a_unix_socket_redis_url_reaches_the_same_database_through_kombu(tmp_path):
    url, server = embedded_redis(tmp_path)
    try:
        with Connection(broker_url(f"{url}?db=5")) as connection:
            queue = connection.SimpleQueue("lj-probe")
            queue.put({"hello": "db5"})
            queue.close()
        assert redis.Redis.from_url(f"{url}?db=5").llen("lj-probe") == 1
        assert redis.Redis.from_url(f"{url}?db=0").exists("lj-probe") == 0
    finally:
        os.kill(server.pid, signal.SIGTERM)


def test_tcp_redis_urls_are_given_to_kombu_unchanged():
    assert broker_url("redis://127.0.0.1:6379/3") == "redis://127.0.0.1:6379/3"
    assert broker_url("unix:///run/redis.sock") == "redis+socket:///run/redis.sock"


def test_jobs_list_shows_each_job_with_its_function(app, sample_jobs):
    result = app.test_cli_runner().invoke(args=["jobs", "list"])
    assert result.exit_code == 0, result.output
    assert "record-visit" in result.output
    assert "tests.workers.sample_jobs:record_visit" in result.output


def test_jobs_run_runs_the_job_here_and_prints_its_summary(app, sample_jobs):
    result = app.test_cli_runner().invoke(args=["jobs", "run", "record-visit"])
    assert result.exit_code == 0, result.output
    assert "record-visit: 1 visit recorded" in result.output
    assert len(staff_emails(app, sample_jobs, "visit-%")) == 1


def test_jobs_run_of_an_unknown_job_fails_with_a_clear_message(app, sample_jobs):
    result = app.test_cli_runner().invoke(args=["jobs", "run", "no-such-job"])
    assert result.exit_code != 0
    assert "No job 'no-such-job'" in result.output
    assert "record-visit" in result.output


def test_jobs_run_does_nothing_while_another_run_holds_the_lock(app, sample_jobs):
    with app.app_context(), job_lock("record-visit") as lock:
        assert lock is not None
        result = app.test_cli_runner().invoke(args=["jobs", "run", "record-visit"])
    assert result.exit_code != 0
    assert "running elsewhere" in result.output
    assert staff_emails(app, sample_jobs, "visit-%") == []
