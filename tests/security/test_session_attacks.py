"""Attacks on sessions, each as an attacker would try it against the real app and Redis.

Fixation, replay after sign-out, a cookie carried to another setting, a tampered
cookie, a forged form from a sibling subdomain and framing by another site.
"""

from __future__ import annotations

import pytest

from tests.helpers.clients import client_for, csrf_token, sign_in
from tests.helpers.journal import signed_in
from tests.routes import app_routes, real_ids


def _is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def _client_with_cookie(app, slug: str, cookie: str):
    client = client_for(app, slug)
    client.use_session_cookie(cookie)
    return client


def test_a_planted_session_id_is_replaced_at_sign_in(app, member):
    setting, email = member
    attacker = client_for(app, setting.slug)
    attacker.get("/login")  # the attacker's own anonymous session, with its id
    planted = attacker.session_cookie()
    assert planted

    members_browser = _client_with_cookie(app, setting.slug, planted)
    assert sign_in(members_browser, email).status_code == 303

    assert members_browser.session_cookie() != planted
    assert _is_signed_in(members_browser)
    assert not _is_signed_in(attacker), "the planted id must not become a signed-in session"


def test_a_cookie_replayed_after_sign_out_is_refused(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)
    stolen = client.session_cookie()
    assert _is_signed_in(_client_with_cookie(app, setting.slug, stolen))

    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    replay = _client_with_cookie(app, setting.slug, stolen)
    assert not _is_signed_in(replay)
    assert replay.get("/session/status").get_json()["signed_in"] is False
    refused = replay.post("/account/devices/sign-out-others", data={})
    assert refused.status_code in (302, 400), refused.status_code


def test_a_cookie_from_another_settings_host_is_not_accepted(app, make_setting, member):
    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)
    other = make_setting()

    carried = _client_with_cookie(app, other.slug, client.session_cookie())

    assert not _is_signed_in(carried)
    assert carried.get("/session/status").get_json()["signed_in"] is False
    assert _is_signed_in(client), "the cookie still works where it was issued"


def _tampered(cookie: str) -> list[str]:
    flipped = ("A" if cookie[0] != "A" else "B") + cookie[1:]
    return [
        flipped,
        cookie[:-1],
        cookie + "x",
        cookie * 2,
        "x" * 4_000,
        "*",
        f"{cookie}*",
        "../" + cookie,
        f"other:{cookie}",
        "%00" + cookie,
        "\u00e9" + cookie,
        '{"_user_id": "1"}',
        "",
    ]


def test_a_tampered_cookie_is_treated_as_signed_out_never_an_error(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)
    for value in _tampered(client.session_cookie()):
        tampered = _client_with_cookie(app, setting.slug, value)
        for path in ("/account", "/", "/session/status", "/login"):
            response = tampered.get(path)
            assert response.status_code < 500, (value[:40], path, response.status_code)
        assert not _is_signed_in(tampered), value[:40]
    assert _is_signed_in(client)


def _signed_in_parent(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)
    return client, f"http://{setting.slug}.localhost"


@pytest.mark.parametrize(
    "header",
    [
        {"Origin": "http://other.localhost"},
        {"Referer": "http://other.localhost/forged.html"},
        {"Origin": "null"},
        {"Origin": "http://localhost"},
    ],
    ids=["origin", "referer", "null-origin", "bare-domain"],
)
def test_a_valid_looking_form_from_a_sibling_subdomain_is_refused(app, member, header):
    client, _ = _signed_in_parent(app, member)
    # The forged page even holds the member's real token: the origin alone must stop it.
    token = csrf_token(client, "/")

    forged = client.post("/logout", data={"csrf_token": token}, headers=header)

    assert forged.status_code == 400
    assert "sent from another site" in forged.text
    assert _is_signed_in(client), "the forged sign-out changed nothing"


def test_a_form_from_the_settings_own_page_is_accepted(app, member):
    client, own_origin = _signed_in_parent(app, member)
    token = csrf_token(client, "/")

    done = client.post(
        "/logout",
        data={"csrf_token": token},
        headers={"Origin": own_origin, "Referer": f"{own_origin}/"},
    )

    assert done.status_code == 303
    assert not _is_signed_in(client)


def test_a_sign_in_form_from_a_sibling_subdomain_is_refused(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    token = csrf_token(client)

    forged = client.post(
        "/login",
        data={"email": email, "password": "x", "pin": "1", "csrf_token": token},
        headers={"Origin": "http://other.localhost"},
    )

    assert forged.status_code == 400


@pytest.mark.parametrize("who", ["anonymous", "parent_a", "manager"])
def test_no_page_can_be_framed_by_another_site(app, family, who):
    client = signed_in(app, family, who)
    ids = real_ids(app, family)
    paths = [route.path_with(ids) for route in app_routes(app) if "GET" in route.methods]
    paths += ["/no-such-page", f"/journal/children/{ids['child_id']}999"]
    for path in paths:
        response = client.get(path)
        assert response.headers.get("X-Frame-Options") == "DENY", path
        policy = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy, path
    bare = client_for(app, None).get("/")
    assert bare.headers.get("X-Frame-Options") == "DENY"
