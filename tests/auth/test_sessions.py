"""Sessions live in Redis: idle and absolute timeouts, logout, resets and other settings."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app import clock
from tests.helpers.clients import client_for, csrf_token, make_user, sign_in, user_id_of


def _signed_in(app, make_setting, role="parent"):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role=role)
    client = client_for(app, setting.slug)
    assert sign_in(client, email).status_code == 303
    return setting, client, email


def _is_signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_idle_session_ends_after_the_timeout(app, make_setting):
    _, client, _ = _signed_in(app, make_setting)
    clock.advance(timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT - 60))
    assert _is_signed_in(client), "activity before the timeout keeps the session"
    clock.advance(timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT - 60))
    assert _is_signed_in(client), "the idle timeout slides with activity"
    clock.advance(timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT + 1))
    response = client.get("/account")
    assert response.status_code == 302
    assert "timeout=1" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert "signed out after a period of inactivity" in page.text


def test_session_ends_at_the_absolute_limit_even_when_busy(app, make_setting):
    _, client, _ = _signed_in(app, make_setting)
    step = timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT // 2)
    elapsed = timedelta()
    while elapsed < timedelta(seconds=app.config["LJ"].SESSION_ABSOLUTE_TIMEOUT - 3600):
        clock.advance(step)
        elapsed += step
        assert _is_signed_in(client)
    clock.advance(timedelta(hours=2))
    assert not _is_signed_in(client)


def test_the_absolute_limit_is_named_on_the_sign_in_page_not_inactivity(app, make_setting):
    _, client, _ = _signed_in(app, make_setting)
    step = timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT // 2)
    response = client.get("/account")
    while response.status_code == 200:
        clock.advance(step)
        response = client.get("/account")
    assert "ended=limit" in response.headers["Location"]
    page = client.get("/login?ended=limit").text
    assert "a sign-in lasts at most 12 hours" in page and "inactivity" not in page


def test_old_cookie_is_refused_after_logout(app, make_setting):
    setting, client, _ = _signed_in(app, make_setting)
    cookie = client.session_cookie()
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    replay = client_for(app, setting.slug)
    replay.use_session_cookie(cookie)
    assert not _is_signed_in(replay)


def test_cookie_of_one_setting_is_refused_by_another(app, make_setting):
    _, client, _ = _signed_in(app, make_setting)
    other = make_setting()
    cookie = client.session_cookie()
    foreign = client_for(app, other.slug)
    foreign.use_session_cookie(cookie)
    assert not _is_signed_in(foreign)


def test_password_reset_ends_every_session(app, make_setting, mail_outbox):
    setting, first_device, email = _signed_in(app, make_setting)
    second_device = client_for(app, setting.slug)
    sign_in(second_device, email)
    visitor = client_for(app, setting.slug)
    visitor.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(visitor)})
    [message] = mail_outbox.to(email)
    path = re.search(r"/password/reset/[A-Za-z0-9_-]+", message.get_body(("plain",)).get_content())
    new = "a brand new long passphrase"
    done = visitor.post(
        path.group(0),
        data={
            "password": new,
            "password_again": new,
            "pin": "730164",
            "pin_again": "730164",
            "csrf_token": csrf_token(visitor),
        },
    )
    assert done.status_code == 303
    assert not _is_signed_in(first_device)
    assert not _is_signed_in(second_device)
    assert sign_in(visitor, email, password=new, pin="730164").status_code == 303
    assert _is_signed_in(visitor)


def test_changing_the_pin_ends_every_session(app, make_setting):
    setting, client, email = _signed_in(app, make_setting)
    other_device = client_for(app, setting.slug)
    sign_in(other_device, email)
    changed = client.post(
        "/account/secrets",
        data={
            "current_password": "correct horse battery staple",
            "current_pin": "402917",
            "new_password": "",
            "new_pin": "582039",
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    assert changed.status_code == 303
    assert not _is_signed_in(client) and not _is_signed_in(other_device)
    assert sign_in(client, email, pin="582039").status_code == 303


def _staff_deactivated_while_signed_in(app, make_setting):
    """A member of staff signed in when the manager deactivates them: their client, their
    email and the manager's answer."""
    setting = make_setting()
    with app.app_context():
        manager_email = make_user(setting.slug, role="manager")
        staff_email = make_user(setting.slug, role="staff", full_name="Leaving Lou")
    manager, staff = client_for(app, setting.slug), client_for(app, setting.slug)
    sign_in(manager, manager_email)
    sign_in(staff, staff_email)
    assert _is_signed_in(staff)
    user_id = user_id_of(app, setting.slug, staff_email)
    done = manager.post(
        f"/people/{user_id}/deactivate", data={"csrf_token": csrf_token(manager, "/invitations")}
    )
    return staff, staff_email, done


def test_deactivation_refuses_the_open_session_on_its_next_request(app, make_setting):
    staff, staff_email, done = _staff_deactivated_while_signed_in(app, make_setting)
    assert done.status_code == 303
    assert not _is_signed_in(staff)
    assert sign_in(staff, staff_email).headers["Location"].endswith("/login")


def test_stay_signed_in_refreshes_the_idle_timer(app, make_setting):
    _, client, _ = _signed_in(app, make_setting)
    page = client.get("/").text
    assert 'id="idle-warning"' in page and "Stay signed in" in page
    clock.advance(timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT - 100))
    kept = client.post(
        "/session/keep-alive",
        data={"csrf_token": csrf_token(client, "/")},
        headers={"Accept": "application/json"},
    )
    assert kept.status_code == 204
    clock.advance(timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT - 100))
    assert _is_signed_in(client)


@pytest.mark.parametrize("idle_seconds", [6, 45, 90])
def test_a_short_idle_timeout_slides_with_activity(make_app, make_setting, idle_seconds):
    short = make_app(SESSION_IDLE_TIMEOUT=str(idle_seconds))
    setting = make_setting()
    with short.app_context():
        email = make_user(setting.slug, role="staff")
    client = client_for(short, setting.slug)
    clock.move_to(clock.now())
    assert sign_in(client, email).status_code == 303
    # Active every third of the timeout, for four times the timeout: still signed in.
    step = timedelta(seconds=idle_seconds / 3)
    for _ in range(12):
        clock.advance(step)
        assert _is_signed_in(client)
    clock.advance(timedelta(seconds=idle_seconds + 1))
    assert not _is_signed_in(client)


def test_the_session_index_cleanup_drops_only_sessions_that_have_expired(app, make_setting):
    from app.auth.sessions import session_key, user_index_key

    setting, first, email = _signed_in(app, make_setting)
    second = client_for(app, setting.slug)
    assert sign_in(second, email).status_code == 303
    store = app.extensions["redis"]
    index = user_index_key(setting.slug, user_id_of(app, setting.slug, email))
    assert store.scard(index) == 2
    store.delete(session_key(setting.slug, first.session_cookie()))  # it expired

    result = app.test_cli_runner().invoke(args=["jobs", "run", "session-index-cleanup"])

    assert result.exit_code == 0, result.output
    assert "expired sessions dropped" in result.output
    assert {sid.decode() for sid in store.smembers(index)} == {second.session_cookie()}
    assert _is_signed_in(second)


def test_a_person_whose_access_ended_is_told_so_not_inactivity(app, make_setting):
    setting = make_setting()
    with app.app_context():
        manager_email = make_user(setting.slug, role="manager")
        parent_email = make_user(setting.slug, role="parent", full_name="Gone Parent")
    manager, parent = client_for(app, setting.slug), client_for(app, setting.slug)
    sign_in(manager, manager_email)
    sign_in(parent, parent_email)
    status = parent.get("/session/status").get_json()
    assert status["signed_in"] is True and 0 < status["remaining"] <= 1800
    user_id = user_id_of(app, setting.slug, parent_email)
    manager.post(
        f"/people/{user_id}/deactivate", data={"csrf_token": csrf_token(manager, "/invitations")}
    )
    assert parent.get("/session/status").get_json() == {
        "signed_in": False,
        "remaining": 0,
        "ended": "access_ended",
    }
    response = parent.get("/account")
    assert "ended=access" in response.headers["Location"]
    page = parent.get(response.headers["Location"]).text
    assert "your access to" in page and "has ended" in page and "inactivity" not in page


def test_asking_how_long_is_left_does_not_extend_the_session(app, make_setting):
    _, client, _ = _signed_in(app, make_setting)
    clock.advance(timedelta(seconds=1000))
    assert 790 <= client.get("/session/status").get_json()["remaining"] <= 800
    clock.advance(timedelta(seconds=801))
    assert client.get("/session/status").get_json()["signed_in"] is False


@pytest.mark.parametrize("path", ["/", "/account"])
def test_the_first_page_after_the_idle_timeout_is_sign_in_saying_why(app, make_setting, path):
    """The home page too: a dashboard left open lands on sign-in with the reason, not on
    the signed-out welcome page as if nothing had happened."""
    _, client, _ = _signed_in(app, make_setting)
    assert client.get("/").status_code == 200
    clock.advance(timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT + 1))
    response = client.get(path)
    assert response.status_code == 302 and "timeout=1" in response.headers["Location"]
    page = client.get(response.headers["Location"]).text
    assert "signed out after a period of inactivity" in page


def test_the_home_page_of_a_person_whose_access_ended_says_so(app, make_setting):
    staff, _, _ = _staff_deactivated_while_signed_in(app, make_setting)
    response = staff.get("/")
    assert response.status_code == 302 and "ended=access" in response.headers["Location"]
    assert "has ended" in staff.get(response.headers["Location"]).text


def test_a_visitor_who_never_signed_in_sees_the_welcome_page(app, make_setting):
    setting = make_setting()
    client = client_for(app, setting.slug)
    assert client.get("/").status_code == 200
    assert "Sign in" in client.get("/").text


@pytest.mark.parametrize("path", ["/people/children/new", "/session/keep-alive"])
def test_a_form_sent_after_the_idle_timeout_lands_on_sign_in_saying_why(app, make_setting, path):
    """A page left open past the timeout, then its form sent (a child, Stay signed in): the
    sign-in page with the reason, as for any other request, and nothing done; not a 400
    about an expired page."""
    setting, client, email = _signed_in(app, make_setting, role="manager")
    token = csrf_token(client, "/people/children/new")
    clock.advance(timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT + 1))
    child = {"first_name": "Late", "last_name": "Form", "date_of_birth": "2023-01-05"}
    response = client.post(path, data={**child, "csrf_token": token})
    assert response.status_code == 302
    # Not back to the form's address afterwards: it answers only a POST.
    assert response.headers["Location"] == "/login?timeout=1"
    assert "signed out after a period of inactivity" in client.get("/login?timeout=1").text
    manager = client_for(app, setting.slug)
    sign_in(manager, email)
    assert "Late Form" not in manager.get("/people/children").text


def test_signing_out_after_the_idle_timeout_lands_on_sign_in(app, make_setting):
    _, client, _ = _signed_in(app, make_setting)
    token = csrf_token(client, "/")
    clock.advance(timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT + 1))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login?timeout=1"
    assert not _is_signed_in(client)
