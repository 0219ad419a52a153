"""Real Celery workers for the tests: ``celery -A celery_worker worker`` subprocesses.

Each worker runs against the test database and the test Redis database (the
``app`` fixture has put their URLs in the environment), knows the jobs of
``tests.workers.sample_jobs`` through ``LJ_EXTRA_JOBS``, and is killed when the test
ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
from flask import Flask
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from tenants.binding import tenant_context
from tests.workers.sample_jobs import SAMPLE_JOBS
from workers.presence import ROLES, record_presence

PROJECT_ROOT = Path(__file__).resolve().parents[2]


READY_TIMEOUT = 20.0


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def staff_emails(app: Flask, slug: str, like: str) -> list[str]:
    with app.app_context(), tenant_context(slug):
        return list(db.session.scalars(select(User.email).where(User.email.like(like))))


class Worker:
    """One ``celery worker`` subprocess (or, with ``beat=True``, ``celery beat``) and its log."""

    def __init__(
        self,
        name: str,
        slug: str,
        log_path: Path,
        *,
        beat: bool = False,
        queues: str | None = None,
        **env: str,
    ) -> None:
        self.log_path = log_path
        self.env = {
            **os.environ,
            "LJ_EXTRA_JOBS": SAMPLE_JOBS,
            "LJ_TEST_SETTING": slug,
            "LJ_TASKS_IN_PROCESS": "0",
            "PYTHONPATH": str(PROJECT_ROOT),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        command = [sys.executable, "-m", "celery", "-A", "celery_worker"]
        if beat:
            command += ["beat", "--loglevel", "INFO", "-s", str(log_path.with_suffix(".db"))]
        else:
            # As bin/run starts it: one child process, which the pool can stop at a time limit.
            command += ["worker", "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO"]
            command += ["-n", f"{name}-{uuid.uuid4().hex[:6]}"]
            command += ["-Q", queues] if queues else []
            # Mingle, gossip and heartbeats talk to other workers; these tests need none of it.
            command += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 15.0) -> None:
        def seen() -> bool:
            if self.process.poll() is not None and text not in self.log():
                raise AssertionError(f"worker exited ({self.process.returncode}):\n{self.log()}")
            return text in self.log()

        try:
            wait_until(seen, timeout, f"{text!r} in the worker's log")
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- worker log ---\n{self.log()}") from None

    def wait_ready(self) -> None:
        self.wait_for_log(" ready.", READY_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL the worker and every process it started (its pool's child, a pg_dump),
        as a lost machine or the OOM killer would; returns once they are all gone."""
        if self.process.poll() is None:
            descendants = psutil.Process(self.process.pid).children(recursive=True)
            os.killpg(self.process.pid, signal.SIGKILL)
            for process in descendants:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()
            psutil.wait_procs(descendants, timeout=5)
        self.process.wait(5)


def workers_running(app) -> None:
    """What the heartbeats of a running worker and beat leave in Redis."""
    with app.app_context():
        for role in ROLES:
            record_presence(role)
