"""Whether a Celery worker and Celery beat are running: a heartbeat each keeps in Redis.

Each worker and beat process refreshes ``lj:presence:<role>`` every
``HEARTBEAT_SECONDS`` from a thread of its own, with an expiry of
``PRESENCE_SECONDS``; ``/readyz`` counts a role as seen while its key exists. A
process that stops, hangs or loses Redis lets its key expire within a minute,
and nobody has to remember to clean up after it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

from celery.signals import beat_init, worker_ready
from flask import Flask
from redis.exceptions import RedisError

from app import clock
from app.redis_store import get_redis

log = logging.getLogger(__name__)

Role = Literal["worker", "beat"]
ROLES: tuple[Role, ...] = ("worker", "beat")
HEARTBEAT_SECONDS = 20
PRESENCE_SECONDS = 60


def presence_key(role: Role) -> str:
    return f"lj:presence:{role}"


def record_presence(role: Role) -> None:
    """Say, for the next ``PRESENCE_SECONDS``, that a process of ``role`` is running."""
    get_redis().set(presence_key(role), clock.now().isoformat(), ex=PRESENCE_SECONDS)


def seen_recently(role: Role) -> bool:
    """Whether a process of ``role`` has sent a heartbeat in the last ``PRESENCE_SECONDS``."""
    return bool(get_redis().exists(presence_key(role)))


def _beat_forever(app: Flask, role: Role) -> None:
    while True:
        try:
            with app.app_context():
                record_presence(role)
        except RedisError as error:
            log.warning("could not record the %s heartbeat: %s", role, error)
        time.sleep(HEARTBEAT_SECONDS)


def start_heartbeat(app: Flask, role: Role) -> None:
    """Keep this process's presence fresh until it exits (a daemon thread)."""
    threading.Thread(
        target=_beat_forever, args=(app, role), name=f"lj-{role}-heartbeat", daemon=True
    ).start()


def install_heartbeats(app: Flask) -> None:
    """A worker's or beat's heartbeat starts with it (Celery's own start-up signals)."""
    # One receiver each, however many apps a process builds (the tests build several).
    worker_ready.connect(
        lambda **_: start_heartbeat(app, "worker"), weak=False, dispatch_uid="lj-heartbeat"
    )
    beat_init.connect(
        lambda **_: start_heartbeat(app, "beat"), weak=False, dispatch_uid="lj-heartbeat"
    )
