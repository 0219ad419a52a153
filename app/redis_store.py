"""The Redis connection shared by sessions, rate limits and locks, and how each Redis client
(redis-py, Flask-Limiter's ``limits``, Celery's broker) spells ``REDIS_URL``.

``REDIS_URL`` names one server (``redis://host:6379/0``, ``unix:///path?db=0``) or, for a
primary that Redis Sentinel may replace, the Sentinels and the name they watch it by:
``redis+sentinel://[:password@]host:26379,host2:26379/lj/0`` (the name, then the
database). Each client then asks the Sentinels which server is the primary, and asks
again after a fail-over, so the service follows a new primary without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from flask import Flask, current_app
from redis.sentinel import Sentinel

SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379

# Short timeouts: when Redis is down a page should answer 503 quickly, not hang.
CLIENT_OPTIONS: dict[str, Any] = {"socket_timeout": 2, "socket_connect_timeout": 2}


@dataclass(frozen=True)
class SentinelTarget:
    """A primary found through Redis Sentinel: where the Sentinels listen, the name they
    know the primary by, its database number and password."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    password: str | None


def sentinel_target(url: str) -> SentinelTarget | None:
    """The Sentinel target ``url`` names, or None for a plain Redis URL.

    Raises ``ValueError`` saying what is wrong with a malformed Sentinel URL."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        return None
    userinfo, _, hosts = parts.netloc.rpartition("@")
    password = unquote(userinfo.partition(":")[2]) or None
    sentinels = tuple(_host_and_port(host) for host in hosts.split(",") if host)
    master, _, db = parts.path.strip("/").partition("/")
    if not sentinels or not master:
        raise ValueError(
            "a Sentinel REDIS_URL is redis+sentinel://host:26379[,host:26379]/name[/db]"
        )
    if db and not db.isdigit():
        raise ValueError(f"the database in REDIS_URL must be a number, got {db!r}")
    return SentinelTarget(sentinels, master, int(db or 0), password)


def _host_and_port(location: str) -> tuple[str, int]:
    host, _, port = location.rpartition(":") if ":" in location else (location, "", "")
    if port and not port.isdigit():
        raise ValueError(f"a Sentinel's port in REDIS_URL must be a number, got {port!r}")
    return host, int(port or DEFAULT_SENTINEL_PORT)


def redis_client(url: str) -> redis.Redis:
    """A client of the server ``url`` names; through Sentinel, of whichever is the primary."""
    target = sentinel_target(url)
    if target is None:
        return redis.Redis.from_url(url, health_check_interval=30, **CLIENT_OPTIONS)
    sentinel = Sentinel(list(target.sentinels), sentinel_kwargs=sentinel_options(target))
    return sentinel.master_for(
        target.master, db=target.db, password=target.password, **CLIENT_OPTIONS
    )


def sentinel_options(target: SentinelTarget) -> dict[str, Any]:
    # The password is the primary's and the Sentinels' alike (Flask-Limiter's ``limits``
    # gives the Sentinels the primary's password, so every client is configured so).
    return {**CLIENT_OPTIONS, **({"password": target.password} if target.password else {})}


def limits_storage(url: str) -> tuple[str, dict[str, Any]]:
    """The same server as a ``limits`` storage URI and its options.

    ``limits`` spells Unix sockets ``redis+unix``, and takes a Sentinel's database and the
    primary's password as options (its URI's path is the name alone)."""
    if url.startswith("unix://"):
        return "redis+unix://" + url[len("unix://") :], {}
    target = sentinel_target(url)
    if target is None:
        return url, {}
    hosts = ",".join(f"{host}:{port}" for host, port in target.sentinels)
    options: dict[str, Any] = {
        "db": target.db,
        "sentinel_kwargs": sentinel_options(target),
        **CLIENT_OPTIONS,
    }
    if target.password:
        options["password"] = target.password
    return f"{SENTINEL_SCHEME}://{hosts}/{target.master}", options


def init_redis(app: Flask) -> None:
    app.extensions["redis"] = redis_client(app.config["LJ"].REDIS_URL)


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]
