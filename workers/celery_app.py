"""The Celery app, bound to the Flask app the way Flask's own Celery example does.

``celery_init_app(app)`` makes every task run inside ``app.app_context()``, so a
task uses the same configuration, database session and mail code as a request,
and keeps the Celery app in ``app.extensions["celery"]`` (``celery_worker.py``
hands it to the ``celery`` command).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from celery import Celery, Task
from celery.signals import setup_logging
from flask import Flask

from app.config import Config
from app.ops.logs import configure_logging
from app.redis_store import sentinel_options, sentinel_target
from workers.limits import longest_time_limit
from workers.presence import install_heartbeats
from workers.schedule import beat_schedule

VISIBILITY_TIMEOUT = longest_time_limit() + 15 * 60
"""Seconds before the Redis broker hands an unacknowledged task to another worker.

With ``task_acks_late`` a task is acknowledged when it ends, and the Redis
transport redelivers any task still unacknowledged after this long, even one
that is still running. So it must exceed the longest a job may run (its hard
time limit, ``workers.limits``); then only the task of a worker that died is
delivered again, this long after it was sent. The next scheduled or manual run
does not wait for that: the job's lock died with the worker."""

TEST_VISIBILITY_VARIABLE = "LJ_VISIBILITY_TIMEOUT"
"""Tests only: a visibility timeout of a few seconds, so a test can watch the
task of a killed worker be delivered again."""


def _transport_options(redis_url: str) -> dict[str, Any]:
    return _redelivery_options() | _sentinel_transport_options(redis_url)


def _redelivery_options() -> dict[str, int]:
    seconds = os.environ.get(TEST_VISIBILITY_VARIABLE, "")
    if not seconds:
        return {"visibility_timeout": VISIBILITY_TIMEOUT}
    # Look for abandoned tasks every second, not every 100 s.
    return {
        "visibility_timeout": int(seconds),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }


def _sentinel_transport_options(redis_url: str) -> dict[str, Any]:
    target = sentinel_target(redis_url)
    if target is None:
        return {}
    return {"master_name": target.master, "sentinel_kwargs": sentinel_options(target)}


TASK_MODULES = [
    "workers.jobs",
    "app.storage.deletions",
    "app.mail.delivery",
    "app.auth.tasks",
    "app.journal.photo_processing",
]


def broker_url(redis_url: str) -> str:
    """REDIS_URL as kombu spells it.

    redis-py reads ``unix:///path?db=N``; kombu needs
    ``redis+socket:///path?virtual_host=N`` and, given ``db=N``, silently uses
    database 0 (checked against kombu 5.7). Sentinels are ``sentinel://`` URLs
    joined by ``;``, the primary's name a transport option. TCP URLs are the same
    for both.
    """
    target = sentinel_target(redis_url)
    if target is not None:
        auth = f":{quote(target.password, safe='')}@" if target.password else ""
        return ";".join(
            f"sentinel://{auth}{host}:{port}/{target.db}" for host, port in target.sentinels
        )
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    query = [
        ("virtual_host" if key == "db" else key, value) for key, value in parse_qsl(parts.query)
    ]
    url = f"redis+socket://{parts.netloc}{parts.path}"
    return f"{url}?{urlencode(query)}" if query else url


def celery_settings(config: Config) -> dict[str, Any]:
    return {
        "broker_url": broker_url(config.REDIS_URL),
        "broker_transport_options": _transport_options(config.REDIS_URL),
        "broker_connection_retry_on_startup": True,
        # A task is acknowledged when it ends, not when it starts, so one whose
        # worker dies is run again; and a worker takes one task at a time, so a
        # long job never holds others back in its prefetch buffer.
        "task_acks_late": True,
        "worker_prefetch_multiplier": 1,
        # Jobs report through their log line; nothing waits for a result.
        "task_ignore_result": True,
        "timezone": "UTC",
        "task_always_eager": config.TASKS_IN_PROCESS,
        "beat_schedule": beat_schedule(),
    }


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for ``app``; every task runs inside its app context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask, include=TASK_MODULES)
    celery.config_from_object(celery_settings(app.config["LJ"]))
    celery.set_default()
    # Bind every task now, in the process gunicorn forks its workers from (preload_app):
    # Celery would do it at each web worker's first send, importing its loader then, and
    # the first photo upload of each worker waited for that.
    celery.finalize()
    install_heartbeats(app)
    # Our JSON (or text) lines in the worker and beat too, rather than Celery's own format.
    setup_logging.connect(
        lambda **_: configure_logging(app.config["LJ"]), weak=False, dispatch_uid="lj-logging"
    )
    app.extensions["celery"] = celery
    return celery
