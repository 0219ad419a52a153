"""Nothing of one setting can be read or changed from another, whatever the URL or id."""

from __future__ import annotations

import random

import pytest
from flask import Flask

from tests.helpers.clients import client_for


def _add(client, email: str) -> int:
    response = client.post("/_probe/users", data={"email": email})
    assert response.status_code == 200
    return response.json["id"]


def test_rows_written_through_one_host_are_invisible_through_the_other(app, make_setting):
    a, b = make_setting(), make_setting()
    on_a, on_b = client_for(app, a.slug), client_for(app, b.slug)
    a_id = _add(on_a, "only-in-a@example.org")
    _add(on_b, "only-in-b@example.org")

    assert "only-in-a@example.org" in on_a.get("/_probe/users").json
    assert "only-in-a@example.org" not in on_b.get("/_probe/users").json
    assert on_b.get("/_probe/search?q=only-in-a").json == []
    assert on_a.get("/_probe/search?q=only-in").json == ["only-in-a@example.org"]
    assert on_a.get(f"/_probe/users/{a_id}").text == "only-in-a@example.org"
    # The same id exists in b's table (ids restart per schema) but names b's own row.
    assert on_b.get(f"/_probe/users/{a_id}").text != "only-in-a@example.org"
    assert on_b.get("/_probe/users/999999").status_code == 404


def test_each_host_works_in_its_own_schema(app, make_setting):
    a = make_setting()
    assert client_for(app, a.slug).get("/_probe/where").json["schema"] == a.schema_name


@pytest.fixture
def app_with_one_connection(one_connection_app) -> Flask:
    one_connection_app.config.update(PROPAGATE_EXCEPTIONS=False)
    return one_connection_app


def test_one_pooled_connection_never_carries_a_schema_into_the_next_request(
    app, app_with_one_connection, make_setting
):
    settings = [make_setting(), make_setting()]
    clients = {s.slug: client_for(app_with_one_connection, s.slug) for s in settings}
    expected_users = {s.slug: 1 for s in settings}  # the first manager
    rng = random.Random(20261125)
    for i in range(200):
        setting = settings[i % 2]
        client = clients[setting.slug]
        if rng.random() < 0.25:
            failed = client.post(
                "/_probe/users/fail-midway", data={"email": f"half{i}@example.org"}
            )
            assert failed.status_code == 500
        where = client.get("/_probe/where").json
        assert where == {
            "schema": setting.schema_name,
            "users": expected_users[setting.slug],
            "roles": ["manager"],
        }
    with app_with_one_connection.app_context():
        from app.extensions import db

        assert db.engine.pool.size() == 1
