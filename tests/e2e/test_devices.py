"""In a real browser: "Sign out everywhere else" ends the other devices' sessions and keeps
this one; signing out on a shared computer leaves nothing behind."""

from __future__ import annotations

import pytest

from tests.fixtures.browser import PHONE, check_accessibility
from tests.helpers.clients import GOOD_PASSWORD, GOOD_PIN, make_user

pytestmark = pytest.mark.e2e


def _sign_in(page, server, slug: str, email: str, *, shared: bool = False) -> None:
    page.goto(server.url(slug, "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_label("PIN").fill(GOOD_PIN)
    if shared:
        page.get_by_label("This is a shared or public computer").check()
        assert page.get_by_label("Email").get_attribute("autocomplete") == "off"
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url(slug, "/"))


def test_sign_out_everywhere_else_keeps_this_device(app, make_setting, live_server, new_page):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="parent", full_name="Dana Devices")
    laptop, phone, tablet = new_page(), new_page(PHONE), new_page(PHONE)
    for device in (laptop, phone, tablet):
        _sign_in(device, live_server, setting.slug, email)

    laptop.goto(live_server.url(setting.slug, "/account"))
    laptop.get_by_role("link", name="Your devices").click()
    laptop.get_by_role("heading", name="Your devices").wait_for()
    check_accessibility(laptop, "your devices")
    assert laptop.locator(".device").count() == 3
    assert laptop.get_by_text("This device").count() == 1

    laptop.get_by_role("button", name="Sign out everywhere else").click()
    laptop.get_by_text("Signed out everywhere else (2 other devices).").wait_for()
    assert laptop.locator(".device").count() == 1
    check_accessibility(laptop, "your devices, alone")

    for device in (phone, tablet):
        device.goto(live_server.url(setting.slug, "/account"))
        assert "/login" in device.url, "the other sessions are over"
    laptop.goto(live_server.url(setting.slug, "/account"))
    assert laptop.url.endswith("/account"), "this one is kept"


def test_signing_out_on_a_shared_computer_leaves_nothing_behind(
    app, make_setting, live_server, new_page
):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff")
    page = new_page()
    _sign_in(page, live_server, setting.slug, email, shared=True)
    signed_in_cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    page.evaluate("window.localStorage.setItem('draft', 'left by the last person')")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    assert page.evaluate("window.localStorage.getItem('draft')") is None, "storage cleared"
    left = {c["name"]: c["value"] for c in page.context.cookies()}
    assert not set(left.items()) & set(signed_in_cookies.items()), "no cookie of the session"
