"""/healthz and /readyz: on any host, JSON, 200 or 503, nothing personal to strangers."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.extensions import db
from tenants.migrating import current_revision
from tests.conftest import client_for
from workers.presence import ROLES, record_presence

OPERATOR = "127.0.0.1"  # on METRICS_ALLOWED_IPS by default
STRANGER = "203.0.113.9"


def get_from(client, path: str, address: str):
    return client.get(path, environ_base={"REMOTE_ADDR": address})


def workers_running(app) -> None:
    """What the heartbeats of a running worker and beat leave in Redis."""
    with app.app_context():
        for role in ROLES:
            record_presence(role)


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


def test_readyz_is_ready_when_everything_answers(app, make_setting):
    make_setting()
    workers_running(app)
    answer = get_from(app.test_client(), "/readyz", STRANGER)
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "ready"
    assert set(answer.json["checks"]) >= {"database", "redis", "migrations", "worker", "beat"}


def test_readyz_turns_503_when_redis_stops_and_200_when_it_is_back(make_app, own_redis):
    app = make_app(REDIS_URL=own_redis.url)
    workers_running(app)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200

    own_redis.stop()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json["status"] == "not ready"
    assert down.json["checks"]["redis"]["ok"] is False
    assert down.json["checks"]["database"]["ok"] is True

    own_redis.start()  # empty again: the worker and beat write their next heartbeats
    workers_running(app)
    assert client.get("/readyz").status_code == 200


def test_readyz_503_without_a_worker_or_beat(make_app, own_redis):
    app = make_app(REDIS_URL=own_redis.url)
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"]["worker"]["ok"] is False
    assert answer.json["checks"]["beat"]["ok"] is False


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
    workers_running(app)
    client = client_for(app, None)
    stranger = get_from(client, "/readyz", STRANGER)
    assert stranger.status_code == 503
    assert stranger.json["checks"]["migrations"]["ok"] is False
    assert setting_behind.slug not in stranger.text
    assert "Behind Nursery" not in stranger.text
    operator = get_from(client, "/readyz", OPERATOR)
    assert setting_behind.slug in operator.json["checks"]["migrations"]["private"]


def test_readyz_answers_json_on_a_setting_subdomain_too(app, make_setting):
    setting = make_setting()
    workers_running(app)
    answer = get_from(client_for(app, setting.slug), "/readyz", STRANGER)
    assert answer.is_json and answer.status_code == 200
    assert "Set-Cookie" not in answer.headers
