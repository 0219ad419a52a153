"""A shared or public computer: a short idle timeout, pages never stored, and the browser
told to clear everything when the session ends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import clock
from tests.helpers.clients import GOOD_PASSWORD, GOOD_PIN, client_for, csrf_token, make_user

CLEARED = '"cache", "cookies", "storage"'


def _sign_in(client, email: str, *, shared: bool):
    data = {"email": email, "password": GOOD_PASSWORD, "pin": GOOD_PIN}
    if shared:
        data["shared_computer"] = "y"
    return client.post("/login", data={**data, "csrf_token": csrf_token(client)})


@pytest.fixture
def person(app, make_setting):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="parent")
    return setting.slug, email


def _signed_in(app, person, *, shared: bool):
    slug, email = person
    client = client_for(app, slug)
    assert _sign_in(client, email, shared=shared).status_code == 303
    return client


def _is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_the_sign_in_page_offers_it_and_remembers_no_email(app, person):
    slug, email = person
    client = client_for(app, slug)
    page = client.get("/login").text
    assert 'name="shared_computer"' in page and "shared or public computer" in page
    refused = client.post(
        "/login",
        data={
            "email": email,
            "password": "wrong",
            "pin": "000000",
            "csrf_token": csrf_token(client),
        },
    )
    assert refused.status_code == 303
    assert email not in client.get(refused.headers["Location"]).text


def test_a_shared_session_ends_after_the_short_idle_timeout(app, person):
    shared = _signed_in(app, person, shared=True)
    usual = _signed_in(app, person, shared=False)
    short = app.config["LJ"].SHARED_SESSION_IDLE_TIMEOUT
    assert short == 300
    clock.advance(timedelta(seconds=short - 30))
    assert _is_signed_in(shared), "activity before the timeout keeps it"
    clock.advance(timedelta(seconds=short + 1))
    ended = shared.get("/account")
    assert ended.status_code == 302 and "timeout=1" in ended.headers["Location"]
    assert ended.headers["Clear-Site-Data"] == CLEARED
    assert _is_signed_in(usual), "an ordinary session keeps the usual timeout"


def test_every_answer_of_a_shared_session_is_no_store(app, person):
    shared = _signed_in(app, person, shared=True)
    for path in ("/", "/account", "/account/devices", "/usage-policy", "/no-such-page"):
        assert shared.get(path).headers["Cache-Control"] == "no-store", path
    kept = shared.post(
        "/session/keep-alive",
        data={"csrf_token": csrf_token(shared, "/")},
        headers={"Accept": "application/json"},
    )
    assert kept.headers["Cache-Control"] == "no-store"


def test_the_session_cookie_ends_with_the_browser(app, person):
    slug, email = person
    client = client_for(app, slug)
    response = _sign_in(client, email, shared=True)
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies and all("Expires" not in c and "Max-Age" not in c for c in cookies)


def test_signing_out_clears_the_site_and_an_ordinary_sign_out_does_not(app, person):
    shared = _signed_in(app, person, shared=True)
    out = shared.post("/logout", data={"csrf_token": csrf_token(shared, "/")})
    assert out.headers["Clear-Site-Data"] == CLEARED
    assert out.headers["Cache-Control"] == "no-store"
    assert "Clear-Site-Data" not in shared.get("/login").headers, "said once"

    usual = _signed_in(app, person, shared=False)
    out = usual.post("/logout", data={"csrf_token": csrf_token(usual, "/")})
    assert "Clear-Site-Data" not in out.headers


def test_the_idle_warning_counts_down_from_the_shorter_timeout(app, person):
    shared = _signed_in(app, person, shared=True)
    assert 'data-idle-seconds="300"' in shared.get("/").text
    usual = _signed_in(app, person, shared=False)
    idle = app.config["LJ"].SESSION_IDLE_TIMEOUT
    assert f'data-idle-seconds="{idle}"' in usual.get("/").text
