"""A running worker and beat are seen by /readyz through their heartbeats in Redis."""

from __future__ import annotations

import subprocess
import sys

from app.redis_store import get_redis
from tests.helpers.workers import PROJECT_ROOT, wait_until
from workers.presence import PRESENCE_SECONDS, ROLES, presence_key, seen_recently


def test_a_running_worker_and_beat_are_seen_and_expire_on_their_own(
    app, make_setting, start_worker, tmp_path
):
    with app.app_context():
        get_redis().delete(*(presence_key(role) for role in ROLES))
    worker = start_worker(make_setting().slug)
    worker.wait_ready()
    command = [sys.executable, "-m", "celery", "-A", "celery_worker", "beat"]
    command += ["-s", str(tmp_path / "celerybeat-schedule"), "--loglevel", "INFO"]
    with (tmp_path / "beat.log").open("wb") as log:
        beat = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=worker.env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        with app.app_context():
            for role in ROLES:
                wait_until(lambda role=role: seen_recently(role), 20, f"the {role}'s heartbeat")
                assert 0 < get_redis().ttl(presence_key(role)) <= PRESENCE_SECONDS
        checks = app.test_client().get("/readyz").json["checks"]
        assert checks["worker"]["ok"] and checks["beat"]["ok"]
    finally:
        beat.terminate()
        beat.wait(10)
