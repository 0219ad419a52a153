"""The Redis connection shared by sessions, rate limits and locks."""

from __future__ import annotations

import redis
from flask import Flask, current_app


def redis_url_for_limits(url: str) -> str:
    """The same server as a ``limits`` storage URI (it spells Unix sockets ``redis+unix``)."""
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :]
    return url


def init_redis(app: Flask) -> None:
    # Short timeouts: when Redis is down a page should answer 503 quickly, not hang.
    app.extensions["redis"] = redis.Redis.from_url(
        app.config["LJ"].REDIS_URL,
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=30,
    )


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]
