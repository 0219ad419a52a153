"""/healthz and /readyz: on any host, JSON, 200 or 503, nothing personal to strangers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from app import clock
from app.backups.operations import nightly_backup
from app.extensions import db
from tenants.migrating import current_revision
from tenants.provisioning import provision_setting
from tests.helpers.clients import client_for
from tests.helpers.workers import workers_running

OPERATOR = "127.0.0.1"  # on METRICS_ALLOWED_IPS by default
STRANGER = "203.0.113.9"


def get_from(client, path: str, address: str = STRANGER):
    return client.get(path, environ_base={"REMOTE_ADDR": address})


def failing(answer) -> set[str]:
    return {name for name, check in answer.json["checks"].items() if not check["ok"]}


@pytest.mark.parametrize("host", ["localhost", "sunnyside-unknown.localhost", "10.1.2.3:8000"])
def test_healthz_answers_on_any_host_without_asking_anything(app, host):
    client = app.test_client()
    answer = client.get("/healthz", base_url=f"http://{host}")
    assert answer.status_code == 200
    assert answer.json == {"status": "alive"}


def test_healthz_needs_no_redis_and_no_database(make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", DATABASE_URL="postgresql://x@127.0.0.1:1/x")
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 200


def test_readyz_is_ready_when_everything_answers(ready_service):
    answer = get_from(ready_service.app.test_client(), "/readyz")
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "ready"
    assert set(answer.json["checks"]) == {
        "database",
        "redis",
        "migrations",
        "worker",
        "beat",
        "backup",
    }


def test_readyz_turns_503_when_redis_stops_and_200_when_it_is_back(ready_service, own_redis):
    client = ready_service.app.test_client()
    assert client.get("/readyz").status_code == 200

    own_redis.stop()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json["status"] == "not ready"
    assert {"redis", "worker", "beat"} == failing(down)

    own_redis.start()  # empty again: the worker and beat write their next heartbeats
    workers_running(ready_service.app)
    assert client.get("/readyz").status_code == 200


def test_readyz_503_without_a_worker_or_beat(service):
    answer = service.app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert {"worker", "beat"} <= failing(answer)


def test_readyz_503_without_a_verified_backup_younger_than_26_hours(service):
    workers_running(service.app)
    client = service.app.test_client()
    assert failing(client.get("/readyz")) == {"backup"}
    with service.app.app_context():
        nightly_backup()
    clock.advance(timedelta(hours=25))
    workers_running(service.app)
    assert client.get("/readyz").status_code == 200
    clock.advance(timedelta(hours=2))
    late = client.get("/readyz")
    assert failing(late) == {"backup"}
    assert late.json["checks"]["backup"]["detail"] == "newest verified backup is 27 hours old"


@pytest.fixture
def setting_behind(app, make_setting):
    """A setting whose schema records an older revision than the code's."""
    setting = make_setting(name="Behind Nursery")
    with app.app_context(), db.engine.begin() as connection:
        schema = f'"{setting.schema_name}"'
        head = current_revision(connection, setting.schema_name)
        connection.execute(text(f"UPDATE {schema}.alembic_version SET version_num = 'older'"))
    yield setting
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            text(f"UPDATE {schema}.alembic_version SET version_num = :head"), {"head": head}
        )


def test_readyz_names_no_setting_to_a_stranger_only_to_the_operator(app, setting_behind):
    client = client_for(app, None)
    stranger = get_from(client, "/readyz")
    assert stranger.status_code == 503
    assert "migrations" in failing(stranger)
    assert setting_behind.slug not in stranger.text
    assert "Behind Nursery" not in stranger.text
    operator = get_from(client, "/readyz", OPERATOR)
    assert setting_behind.slug in operator.json["checks"]["migrations"]["private"]


def test_readyz_answers_on_a_setting_subdomain_without_a_session(ready_service):
    with ready_service.app.app_context():
        provision_setting("readyhere", "Ready Here", "manager@readyhere.example.org", "Mina")
    answer = get_from(client_for(ready_service.app, "readyhere"), "/readyz")
    assert answer.is_json and answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
    assert "readyhere" not in answer.text and "Ready Here" not in answer.text
