"""No cache keeps what a page, a JSON document or an error page showed."""

from __future__ import annotations

import pytest

from tests.helpers.journal import signed_in
from tests.routes import app_routes, real_ids


@pytest.mark.parametrize("who", ["manager", "parent_a", "anonymous"])
def test_every_answer_is_no_store_unless_an_image_kept_privately(app, family, who):
    client = signed_in(app, family, who)
    ids = real_ids(app, family)
    json_answers = 0
    for route in app_routes(app):
        if "GET" not in route.methods:
            continue
        path = route.path_with(ids)
        response = client.get(path)
        cache = response.headers.get("Cache-Control", "")
        if response.content_type.startswith("image/"):  # photos, the logo: the browser's own
            assert "private" in cache and "public" not in cache, (path, cache)
        else:
            assert cache == "no-store", (path, response.status_code, cache)
        json_answers += response.is_json and response.status_code == 200
    assert json_answers >= (0 if who == "anonymous" else 2)


def test_the_single_observation_json_is_no_store(app, family):
    ids = real_ids(app, family)
    parent = signed_in(app, family, "parent_a")
    response = parent.get(
        f"/journal/children/{ids['child_id']}/observations/{ids['observation_id']}.json"
    )
    assert response.status_code == 200 and response.is_json
    assert response.headers["Cache-Control"] == "no-store"
