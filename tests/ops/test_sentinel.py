"""Redis through Sentinel: sessions, rate limits and the Celery broker find the primary by
asking the Sentinels, and follow a new primary after a fail-over without a restart.

Real servers of the test's own: a primary, its replica and one Sentinel (quorum 1), each a
``redis-server`` on a free loopback port.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from kombu.simple import SimpleQueue

from app.config import Config, ConfigError
from app.devservers import free_port
from tests.helpers.clients import client_for, make_user, sign_in
from tests.helpers.workers import wait_until
from tests.ops.conftest import OwnRedis

MASTER = "lj"
DB = 2


@dataclass
class SentinelGroup:
    primary: OwnRedis
    replica: OwnRedis
    sentinel_port: int

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{MASTER}/{DB}"

    def primary_port(self) -> int:
        sentinel = redis.Redis(port=self.sentinel_port, decode_responses=True)
        return int(sentinel.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)[1])


def _start_sentinel(work_dir: Path, primary_port: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = work_dir / "sentinel.conf"  # Sentinel rewrites it as it learns
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {work_dir}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 1\n"
        f"sentinel down-after-milliseconds {MASTER} 1000\n"
        f"sentinel failover-timeout {MASTER} 10000\n"
    )
    process = subprocess.Popen(
        ["redis-server", str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, port


@pytest.fixture
def sentinel_group(tmp_path: Path) -> Iterator[SentinelGroup]:
    folders = [tmp_path / name for name in ("primary", "replica", "sentinel")]
    for folder in folders:
        folder.mkdir()
    primary = OwnRedis(folders[0])
    primary.start()
    replica = OwnRedis(folders[1], "--replicaof", "127.0.0.1", str(primary.port))
    replica.start()
    process, port = _start_sentinel(folders[2], primary.port)
    group = SentinelGroup(primary, replica, port)
    try:
        wait_until(lambda: _sentinel_sees_replica(port), 15, "the Sentinel to see the replica")
        yield group
    finally:
        process.terminate()
        process.wait(10)
        replica.stop()
        primary.stop()


def _sentinel_sees_replica(port: int) -> bool:
    try:
        sentinel = redis.Redis(port=port, decode_responses=True)
        return bool(sentinel.execute_command("SENTINEL", "replicas", MASTER))
    except redis.RedisError:
        return False


def _signed_in(make_app, make_setting, url: str):
    app = make_app(REDIS_URL=url)
    slug = make_setting().slug
    with app.app_context():
        email = make_user(slug, role="manager")
    client = client_for(app, slug)
    assert sign_in(client, email).status_code == 303
    return app, client


def test_sessions_rate_limits_and_the_broker_use_the_primary_the_sentinel_names(
    make_app, make_setting, sentinel_group
):
    app, client = _signed_in(make_app, make_setting, sentinel_group.url)
    assert client.get("/account").status_code == 200

    primary = redis.Redis(port=sentinel_group.primary.port, db=DB, decode_responses=True)
    keys = set(primary.keys("*"))
    assert any("session" in key for key in keys), keys  # the sign-in's session
    assert any(key.startswith("LIMIT") for key in keys), keys  # the sign-in's rate limits
    assert redis.Redis(port=sentinel_group.primary.port, db=0).dbsize() == 0

    celery = app.extensions["celery"]
    with celery.connection_for_write() as connection:
        queue = SimpleQueue(connection, "lj-sentinel-test")
        queue.put({"hello": "sentinel"})
        assert primary.llen("lj-sentinel-test") == 1
        assert queue.get(timeout=5).payload == {"hello": "sentinel"}
        queue.close()


def test_after_a_failover_pages_follow_the_new_primary_without_a_restart(
    make_app, make_setting, sentinel_group
):
    _, client = _signed_in(make_app, make_setting, sentinel_group.url)
    old_primary = redis.Redis(port=sentinel_group.primary.port)
    old_primary.execute_command("WAIT", 1, 5000)  # the session is on the replica too

    sentinel_group.primary.stop()
    wait_until(
        lambda: sentinel_group.primary_port() == sentinel_group.replica.port,
        30,
        "the Sentinel to promote the replica",
    )

    deadline = time.monotonic() + 15
    answers = []
    while time.monotonic() < deadline:
        answers.append(client.get("/account").status_code)
        if answers[-1] == 200:
            break
        time.sleep(0.2)
    # Until the client finds the new primary a page may be the clean 503; never a 500,
    # and the person is still signed in once it has.
    assert answers[-1] == 200 and set(answers) <= {200, 503}, answers


def test_a_malformed_sentinel_url_stops_start_up_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis+sentinel://127.0.0.1:26379")
    with pytest.raises(ConfigError, match="redis\\+sentinel://host:26379"):
        Config()
    monkeypatch.setenv("REDIS_URL", "redis+sentinel://127.0.0.1:26379/lj/zero")
    with pytest.raises(ConfigError, match="must be a number"):
        Config()
