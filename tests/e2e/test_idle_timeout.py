"""In a real browser: the warning before auto logout, "Stay signed in", then auto logout."""

from __future__ import annotations

import pytest

from tests.conftest import GOOD_PASSWORD, GOOD_PIN, make_user
from tests.fixtures.browser import LiveServer, check_accessibility, screenshot

pytestmark = pytest.mark.e2e

IDLE_SECONDS = 6


@pytest.fixture
def short_idle_server(make_app):
    server = LiveServer(make_app(SESSION_IDLE_TIMEOUT=str(IDLE_SECONDS)))
    yield server
    server.stop()


def _sign_in(page, server, slug, email):
    page.goto(server.url(slug, "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_label("PIN").fill(GOOD_PIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url(slug, "/"))


def test_idle_warning_then_stay_signed_in_then_auto_logout(
    app, make_setting, short_idle_server, new_page
):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="parent", full_name="Idle Parent")
    page = new_page()
    _sign_in(page, short_idle_server, setting.slug, email)
    warning = page.get_by_role("alertdialog")
    assert warning.is_hidden()

    warning.wait_for(state="visible", timeout=(IDLE_SECONDS + 2) * 1000)
    screenshot(page, "idle-warning")
    check_accessibility(page, "idle warning")
    page.get_by_role("button", name="Stay signed in").click()
    warning.wait_for(state="hidden")
    assert page.url == short_idle_server.url(setting.slug, "/")

    # Doing nothing now: the page takes the person to sign in, with a message.
    page.wait_for_url("**/login?timeout=1", timeout=(IDLE_SECONDS + 4) * 1000)
    assert "signed out after a period of inactivity" in page.content()
    page.goto(short_idle_server.url(setting.slug, "/account"))
    assert "/login" in page.url, "the server ended the session too"
