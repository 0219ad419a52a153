"""The icon every browser asks for at /favicon.ico, on each page load, on any host."""

from __future__ import annotations

import pytest

from tests.helpers.clients import client_for
from tests.helpers.journal import sign_in_in_browser

ICO_MAGIC = b"\x00\x00\x01\x00"


@pytest.mark.parametrize("host", ["setting", "bare domain", "unknown subdomain"])
def test_the_favicon_is_served_without_a_session_on_any_host(app, family, host):
    slug = {"setting": family.slug, "bare domain": None, "unknown subdomain": "no-such"}[host]
    icon = client_for(app, slug).get("/favicon.ico")

    assert icon.status_code == 200
    assert icon.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert icon.data.startswith(ICO_MAGIC)
    assert "Set-Cookie" not in icon.headers, "an icon request opens no session"


@pytest.mark.e2e
def test_a_page_load_asks_for_nothing_that_is_not_there(app, family, live_server, new_page):
    """No 404 in the browser's console, for the icon or anything else the pages load."""
    page = new_page()
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))

    sign_in_in_browser(page, live_server, family, "parent_a")
    page.goto(live_server.url(family.slug, f"/journal/children/{family.child_a_id}"))
    page.wait_for_load_state("networkidle")

    assert failed == [] and errors == [], (failed, errors)
