"""Your devices: every signed-in session with its browser, network and times; sign out one,
or everywhere else; a sign-in from a browser new to the account is emailed."""

from __future__ import annotations

import re

import pytest

from app.auth.devices import browser_of, network_of
from tests.helpers.clients import client_for, csrf_token, make_user, sign_in

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
SIGN_OUT_ONE = re.compile(r'action="(/account/devices/[0-9a-f]+/sign-out)"')


def _device(app, slug: str, user_agent: str, address: str = "192.0.2.77"):
    client = client_for(app, slug)
    client.environ_base.update(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    return client


def _is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


@pytest.fixture
def account(app, make_setting):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="parent")
    return setting.slug, email


def test_the_page_lists_each_device_with_browser_network_and_times(app, account):
    slug, email = account
    laptop = _device(app, slug, FIREFOX_WINDOWS, "192.0.2.77")
    phone = _device(app, slug, SAFARI_IPHONE, "10.1.2.3")
    sign_in(laptop, email)
    sign_in(phone, email)
    page = laptop.get("/account/devices").text
    assert "Firefox on Windows" in page and "Network 192.0.2.0/24" in page
    assert "Mobile Safari on iOS" in page and "A local network" in page
    assert page.count("This device") == 1
    assert page.index("This device") < page.index("Mobile Safari"), "this device comes first"
    assert "192.0.2.77" not in page, "only the network, never the address"
    assert page.count("Signed in") == 2 and page.count("Last active") == 2
    assert len(SIGN_OUT_ONE.findall(page)) == 1, "every other device can be signed out"


def test_sign_out_everywhere_else_ends_the_other_sessions_and_keeps_this_one(app, account):
    slug, email = account
    here, phone, tablet = (
        _device(app, slug, agent) for agent in (FIREFOX_WINDOWS, SAFARI_IPHONE, CHROME_ANDROID)
    )
    for client in (here, phone, tablet):
        sign_in(client, email)
    done = here.post(
        "/account/devices/sign-out-others",
        data={"csrf_token": csrf_token(here, "/account/devices")},
    )
    assert done.status_code == 303
    assert _is_signed_in(here)
    assert not _is_signed_in(phone) and not _is_signed_in(tablet)
    page = here.get("/account/devices").text
    assert "This device" in page and "Mobile Safari" not in page and "Chrome Mobile" not in page


def test_one_device_is_signed_out_and_only_the_accounts_own(app, account, make_setting):
    slug, email = account
    with app.app_context():
        other_email = make_user(slug, role="parent")
    here, phone, tablet = (
        _device(app, slug, agent) for agent in (FIREFOX_WINDOWS, SAFARI_IPHONE, CHROME_ANDROID)
    )
    sign_in(here, email)
    sign_in(phone, email)
    sign_in(tablet, other_email)
    [phone_path] = SIGN_OUT_ONE.findall(here.get("/account/devices").text)
    token = csrf_token(here, "/account/devices")
    assert here.post(phone_path, data={"csrf_token": token}).status_code == 303
    assert not _is_signed_in(phone) and _is_signed_in(here)

    assert SIGN_OUT_ONE.findall(tablet.get("/account/devices").text) == [], "only its own"
    [tablet_path] = SIGN_OUT_ONE.findall(_devices_of_other_account(app, slug, other_email))
    refused = here.post(tablet_path, data={"csrf_token": token})
    assert refused.status_code == 303
    assert _is_signed_in(tablet), "another account's session cannot be named"


def _devices_of_other_account(app, slug: str, email: str) -> str:
    """The other account's devices page as a second device of theirs sees it."""
    second = _device(app, slug, SAFARI_IPHONE)
    sign_in(second, email)
    return second.get("/account/devices").text


def test_a_new_browser_is_emailed_once_and_a_known_one_never(app, account, mail_outbox):
    slug, email = account
    sign_in(_device(app, slug, FIREFOX_WINDOWS), email)
    assert mail_outbox.to(email) == [], "the account's first browser is its owner's"
    sign_in(_device(app, slug, FIREFOX_WINDOWS, "198.51.100.9"), email)
    assert mail_outbox.to(email) == [], "a known browser, even from elsewhere"

    sign_in(_device(app, slug, SAFARI_IPHONE, "203.0.113.5"), email)
    [message] = mail_outbox.to(email)
    body = message.get_body(("plain",)).get_content()
    assert "Mobile Safari on iOS" in body and "network 203.0.113.0/24" in body
    assert "/account/devices" in body

    sign_in(_device(app, slug, SAFARI_IPHONE, "203.0.113.5"), email)
    assert len(mail_outbox.to(email)) == 1


def test_a_failed_sign_in_from_a_new_browser_is_not_noted(app, account, mail_outbox):
    slug, email = account
    sign_in(_device(app, slug, FIREFOX_WINDOWS), email)
    sign_in(_device(app, slug, SAFARI_IPHONE), email, pin="999999")
    sign_in(_device(app, slug, SAFARI_IPHONE), email)
    assert len(mail_outbox.to(email)) == 1, "noted on the sign-in that worked"


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("192.0.2.77", "network 192.0.2.0/24"),
        ("203.0.113.200", "network 203.0.113.0/24"),
        ("2001:db8:1234:5678::1", "network 2001:db8:1234::/48"),
        ("::ffff:198.51.100.7", "network 198.51.100.0/24"),
        ("10.0.0.5", "a local network"),
        ("192.168.1.20", "a local network"),
        ("fd12:3456::1", "a local network"),
        ("127.0.0.1", "this computer"),
        ("::1", "this computer"),
        ("", "an unknown network"),
        (None, "an unknown network"),
        ("not an address", "an unknown network"),
    ],
)
def test_the_place_is_the_addresss_own_network(address, said):
    assert network_of(address) == said


@pytest.mark.parametrize(
    ("agent", "said"),
    [
        (FIREFOX_WINDOWS, "Firefox on Windows"),
        (SAFARI_IPHONE, "Mobile Safari on iOS"),
        (CHROME_ANDROID, "Chrome Mobile on Android"),
        ("", "Unknown browser on an unknown system"),
        ("curl/8.5.0", "curl on an unknown system"),
    ],
)
def test_browsers_are_named_from_the_user_agent(agent, said):
    assert str(browser_of(agent)) == said


def test_the_browser_an_account_was_activated_in_is_known(app, setting_with_manager, mail_outbox):
    setting, manager, _ = setting_with_manager
    manager.post(
        "/invitations",
        data={
            "full_name": "Nia New",
            "email": "nia@example.org",
            "role": "parent",
            "csrf_token": csrf_token(manager, "/invitations"),
        },
    )
    text = mail_outbox.to("nia@example.org")[-1].get_body(("plain",)).get_content()
    path = re.search(r"/activate/[\w-]+", text).group(0)
    laptop = _device(app, setting.slug, FIREFOX_WINDOWS)
    new = "a quiet walk by the river"
    laptop.post(
        path,
        data={
            "password": new,
            "password_again": new,
            "pin": "730164",
            "pin_again": "730164",
            "csrf_token": csrf_token(laptop, path),
        },
    )
    before = len(mail_outbox.to("nia@example.org"))
    sign_in(_device(app, setting.slug, FIREFOX_WINDOWS), "nia@example.org", new, "730164")
    assert len(mail_outbox.to("nia@example.org")) == before
    sign_in(_device(app, setting.slug, SAFARI_IPHONE), "nia@example.org", new, "730164")
    assert len(mail_outbox.to("nia@example.org")) == before + 1
