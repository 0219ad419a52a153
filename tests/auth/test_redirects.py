"""After sign-in a person goes back to the page they asked for, and never to another site."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.security.redirects import local_path
from tests.helpers.clients import GOOD_PASSWORD, GOOD_PIN, client_for, csrf_token

# Values of ``next`` that browsers would follow to another host if we sent them back
# as they are (or after we percent-decode them once or twice).
BYPASSES = [
    "//evil.example",
    "///evil.example",
    "////evil.example/",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/\u3000/evil.example",
    "/\u200b/evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "/\t\\evil.example",
    "https://evil.example",
    "http:evil.example",
    "HTTPS:/evil.example",
    "javascript:alert(1)",
    "evil.example",
    "@evil.example",
    "//sunnyside.localhost@evil.example",
    "https://sunnyside.localhost@evil.example/",
    "%2F%2Fevil.example",
    "/%2F%2Fevil.example",
    "/%2fevil.example",
    "%5C%5Cevil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "/%252F%252Fevil.example",
    "/%255Cevil.example",
    "/%25252F%25252Fevil.example",
    "%252F%252Fevil.example",
    "/%25252525252F%25252525252Fevil.example",
    "/.//evil.example",
    "/a/..//evil.example",
    "/%2e//evil.example",
    "/%2E%2E//evil.example",
]


def _went_home_or_was_refused(response) -> bool:
    """Home, or (control characters other than line breaks) the input guard's 400."""
    if response.status_code == 400:
        return True
    return response.status_code == 303 and response.headers["Location"] == "/"


def _sign_in_with_next(client, email: str, next_value: str):
    query = "next=" + quote(next_value, safe="")
    client.get("/login", query_string=query)
    data = {"email": email, "password": GOOD_PASSWORD, "pin": GOOD_PIN}
    data["csrf_token"] = csrf_token(client)
    return client.post("/login", query_string=query, data=data)


@pytest.mark.parametrize("next_value", BYPASSES)
def test_sign_in_never_redirects_to_another_site(app, member, next_value):
    setting, email = member
    response = _sign_in_with_next(client_for(app, setting.slug), email, next_value)
    assert _went_home_or_was_refused(response)


@pytest.mark.parametrize(
    "next_value",
    ["/account", "/journal/?page=2&area=communication", "/journal/children/7", "/@home"],
)
def test_sign_in_returns_to_the_page_asked_for(app, member, next_value):
    setting, email = member
    response = _sign_in_with_next(client_for(app, setting.slug), email, next_value)
    assert response.status_code == 303
    assert response.headers["Location"] == next_value


def test_line_breaks_in_next_are_dropped_not_a_500(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    response = _sign_in_with_next(client, email, "/account\r\nSet-Cookie: planted=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/accountSet-Cookie:planted=1"
    assert not any(c.startswith("planted") for c in response.headers.getlist("Set-Cookie"))


def test_the_sign_in_page_with_line_breaks_in_next_is_shown(app, make_setting):
    setting = make_setting()
    response = client_for(app, setting.slug).get("/login?next=/account%0d%0a")
    assert response.status_code == 200


@pytest.mark.parametrize("next_value", BYPASSES)
def test_stay_signed_in_never_redirects_to_another_site(setting_with_manager, next_value):
    _setting, client, _email = setting_with_manager
    response = client.post(
        "/session/keep-alive", data={"next": next_value, "csrf_token": csrf_token(client, "/")}
    )
    assert _went_home_or_was_refused(response)


@pytest.mark.parametrize("next_value", BYPASSES)
def test_no_bypass_is_a_local_path(next_value):
    assert local_path(next_value) is None
