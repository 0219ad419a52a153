"""A pooled connection the database server ended is replaced before the next page uses it."""

from __future__ import annotations

import time

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.extensions import db
from tests.helpers.clients import client_for, make_user, sign_in


def _pooled_backend_pids(app) -> set[int]:
    """The server processes behind the app's pooled connections (the pool holds one here:
    a test makes one request at a time)."""
    with app.app_context(), db.engine.connect() as connection:
        return {connection.execute(text("SELECT pg_backend_pid()")).scalar_one()}


def _terminate(database_url: str, pids: set[int]) -> None:
    """End those server processes as a restart or an administrator would, and wait until
    they are gone."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url, autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 10
        while admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),)
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the backends did not end"
            time.sleep(0.05)


def test_the_page_after_the_server_ended_a_pooled_connection_is_served(
    make_app, make_setting, servers
):
    setting = make_setting()
    app = make_app()  # a pool of its own, filled by this test alone
    with app.app_context():
        email = make_user(setting.slug, role="manager")
    client = client_for(app, setting.slug)
    assert sign_in(client, email).status_code == 303
    assert client.get("/account").status_code == 200

    _terminate(servers["DATABASE_URL"], _pooled_backend_pids(app))

    assert client.get("/account").status_code == 200
