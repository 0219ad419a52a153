"""In a real browser: the warning before auto logout, "Stay signed in", then auto logout.

Time is moved, not waited for: the page's clock (Playwright's, for its timers) and the
server's (``app.clock``, which the live server in this process reads) go forward together,
a second at a time, as they would while a person does nothing. The typing test still waits
in real time (see there).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import clock
from tests.fixtures.browser import LiveServer, check_accessibility, screenshot
from tests.helpers.clients import GOOD_PASSWORD, GOOD_PIN, make_user

pytestmark = pytest.mark.e2e

IDLE_SECONDS = 10
# The page signs out this long before the timeout (idle.js: a fifth of the warning, at most
# 2 s), keeping what was typed first: time stops there while the page does it.
LEAVE_BEFORE_SECONDS = 1


@pytest.fixture
def short_idle_server(make_app):
    server = LiveServer(make_app(SESSION_IDLE_TIMEOUT=str(IDLE_SECONDS)))
    yield server
    server.stop()


def _idle_for(page, seconds: int) -> None:
    """``seconds`` pass for the page's timers and the server alike."""
    for _ in range(seconds):
        clock.advance(timedelta(seconds=1))
        page.clock.run_for(1000)


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
    page.clock.install()
    _sign_in(page, short_idle_server, setting.slug, email)
    warning = page.get_by_role("alertdialog")
    assert warning.is_hidden()

    _idle_for(page, IDLE_SECONDS // 2 + 1)  # the warning comes half-way (5 s before)
    warning.wait_for(state="visible")
    screenshot(page, "idle-warning")
    check_accessibility(page, "idle warning")
    page.get_by_role("button", name="Stay signed in").click()
    warning.wait_for(state="hidden")
    assert page.url == short_idle_server.url(setting.slug, "/")

    # Doing nothing now: the page takes the person to sign in, with a message.
    _idle_for(page, IDLE_SECONDS - LEAVE_BEFORE_SECONDS)
    page.wait_for_url("**/login?timeout=1")
    assert "signed out after a period of inactivity" in page.content()
    page.goto(short_idle_server.url(setting.slug, "/account"))
    assert "/login" in page.url, "the server ended the session too"


def test_activity_in_another_tab_keeps_this_one_signed_in(
    app, make_setting, short_idle_server, new_page
):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="parent", full_name="Two Tabs")
    first = new_page()
    first.clock.install()
    _sign_in(first, short_idle_server, setting.slug, email)
    second = first.context.new_page()
    # The person works in the second tab for longer than the idle timeout.
    for _ in range(IDLE_SECONDS + 2):
        second.goto(short_idle_server.url(setting.slug, "/account"))
        _idle_for(first, 1)
    assert first.url == short_idle_server.url(setting.slug, "/"), "the first tab stayed"
    assert first.get_by_role("alertdialog").is_hidden()


def test_typing_counts_and_what_was_typed_is_back_after_the_sign_out(
    app, make_setting, short_idle_server, new_page
):
    # In real time: what was typed is kept by a request the page sends just before its
    # sign-out, which must reach the server before the timeout; with the clocks moved a
    # second at a time, the page's answers came later than its time and it was lost.
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff", full_name="Busy Typist")
    page = new_page()
    _sign_in(page, short_idle_server, setting.slug, email)
    page.goto(short_idle_server.url(setting.slug, "/journal/observations/new"))
    text = page.get_by_label("What happened")
    sentence = "Ada built a tall tower of blocks and counted every one of them"
    for word in sentence.split():  # about thirteen seconds of typing: longer than the timeout
        text.press_sequentially(word + " ")
        page.wait_for_timeout(1000)
    assert "/journal/observations/new" in page.url, "typing kept the session"

    page.wait_for_url("**/login?timeout=1", timeout=(IDLE_SECONDS + 4) * 1000)
    assert "signed out after a period of inactivity" in page.content()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_label("PIN").fill(GOOD_PIN)
    page.get_by_role("button", name="Sign in").click()
    page.goto(short_idle_server.url(setting.slug, "/journal/observations/new"))
    assert "counted every one of them" in page.get_by_label("What happened").input_value()
    assert "what you had typed is back" in page.content()
