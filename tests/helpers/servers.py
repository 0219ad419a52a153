"""The test run's own PostgreSQL: how to reach it as its administrator."""

from __future__ import annotations

from sqlalchemy.engine import make_url


def admin_conninfo(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
