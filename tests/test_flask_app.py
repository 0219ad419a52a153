"""The service's Flask class: Flask's behaviour, with ``ensure_sync``'s answer kept."""

from __future__ import annotations

import pytest

from app.flask_app import LearningJournalsFlask


def test_an_async_view_is_handed_to_flasks_async_support_on_every_request():
    app = LearningJournalsFlask(__name__)
    app.testing = True

    @app.get("/plain")
    def plain() -> str:
        return "plain"

    @app.get("/later")
    async def later() -> str:
        return "awaited"

    client = app.test_client()
    for _ in range(2):  # the second time, from what the first one kept
        assert client.get("/plain").text == "plain"
        # Flask runs async views through asgiref, which the service does not install:
        # Flask's own refusal, never the coroutine object called as if it were a view.
        with pytest.raises(RuntimeError, match="async"):
            client.get("/later")
