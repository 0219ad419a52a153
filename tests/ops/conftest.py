"""A Redis server of the test's own, which it may stop and start (never the shared one);
a service of the test's own that is ready; and the journal tests' family of accounts."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.backups.operations import nightly_backup
from app.devservers import free_port
from app.security.rate_limits import install_rate_limits
from tests.helpers.backups import Service
from tests.helpers.workers import workers_running


class OwnRedis:
    """``redis-server`` on a free loopback port, nothing kept on disk; ``options`` are more
    of its command-line options (e.g. ``--replicaof``)."""

    def __init__(self, work_dir: Path, *options: str) -> None:
        self.port = free_port()
        self.work_dir = work_dir
        self.options = options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.work_dir)]
        command += self.options
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: install Debian's redis-server")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ready_service(app, own_redis: OwnRedis, monkeypatch, request) -> Iterator[Service]:
    """A service with its own database, Redis and backups, and everything /readyz asks
    for: migrated, a worker's and beat's heartbeats, a backup made and verified now."""
    monkeypatch.setenv("REDIS_URL", own_redis.url)
    ready: Service = request.getfixturevalue("service")
    with ready.app.app_context():
        nightly_backup()
    workers_running(ready.app)
    yield ready
    # Flask-Limiter keeps its storage on the shared extension object: give it back.
    install_rate_limits(app)
