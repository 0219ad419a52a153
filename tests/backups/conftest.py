"""A service of its own for each backup test: its own database, media, backups and ledger.

A backup covers the whole database, so these tests do not share the session's
database (full of other tests' settings): each gets a scratch database on the
same server (dropped afterwards, with any database a restore renamed aside)
and an app configured for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from psycopg import sql
from sqlalchemy.engine import make_url

from app import create_app
from app.config import Config
from app.extensions import db
from tenants.migrating import upgrade_public
from tenants.provisioning import provision_setting
from tests.conftest import _admin_conninfo
from tests.journal.conftest import Journal, make_family, observe_with_a_photo


@dataclass
class Service:
    app: Flask
    database_url: str
    media_root: Path
    backup_dir: Path
    ledger: Path

    def cli(self, *args: str, input: str | None = None):
        return self.app.test_cli_runner().invoke(args=list(args), input=input)

    def family(self, slug: str, name: str = "Sunnyside Nursery") -> Journal:
        """A setting with two families and one published observation with a photo."""
        with self.app.app_context():
            provision_setting(slug, name, f"manager@{slug}.example.org", "Mina Manager")
        family = make_family(self.app, slug)
        observe_with_a_photo(self.app, family, "Ada built a tower of ten blocks.")
        return family


def _drop_databases_starting(admin: str, prefix: str) -> None:
    with psycopg.connect(admin, autocommit=True) as connection:
        names = [
            name
            for (name,) in connection.execute("SELECT datname FROM pg_database")
            if name == prefix or name.startswith(f"{prefix}_")
        ]
        for name in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def service(app: Flask, servers, tmp_path: Path, monkeypatch) -> Iterator[Service]:
    admin = _admin_conninfo(servers["DATABASE_URL"])
    name = f"lj_backup_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(servers["DATABASE_URL"]).set(database=name).render_as_string(False)
    places = {
        "DATABASE_URL": url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "ERASURE_LEDGER": str(tmp_path / "erasure-ledger.jsonl"),
        "BACKUP_KEY": f"test-backup-key-{uuid.uuid4().hex}",
    }
    for variable, value in places.items():
        monkeypatch.setenv(variable, value)
    own = create_app(Config())
    own.config.update(TESTING=True)
    with own.app_context():
        upgrade_public(db.engine)
    try:
        yield Service(
            own, url, tmp_path / "media", tmp_path / "backups", tmp_path / "erasure-ledger.jsonl"
        )
    finally:
        with own.app_context():
            db.engine.dispose()
        # create_app made the new app's Celery app the default: give it back.
        app.extensions["celery"].set_default()
        app.extensions["celery"].set_current()
        _drop_databases_starting(admin, name)


from tests.workers.conftest import celery_app, start_worker  # noqa: E402, F401  (real workers)
