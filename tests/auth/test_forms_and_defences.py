"""Forgot-password answers, email changes, hostile input, security headers, Redis down."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

from app import clock
from tests.fixtures.smtp import html_of, text_of
from tests.helpers.clients import GOOD_PASSWORD, GOOD_PIN, client_for, csrf_token, sign_in


def test_forgot_gives_one_answer_and_mails_only_real_active_accounts(app, member, mail_outbox):
    setting, email = member
    pages = []
    for address in (email, "stranger@example.org", email.upper()):
        client = client_for(app, setting.slug)
        response = client.post(
            "/password/forgot", data={"email": address, "csrf_token": csrf_token(client)}
        )
        pages.append((response.status_code, response.data))
        clock.advance(timedelta(minutes=3))  # each its own request, not a second tap
    assert len(set(pages)) == 1 and pages[0][0] == 200
    assert len(mail_outbox.to(email)) == 2
    client = client_for(app, setting.slug)
    malformed = client.post(
        "/password/forgot", data={"email": "not an email", "csrf_token": csrf_token(client)}
    )
    assert malformed.status_code == 422
    assert "not valid" in malformed.text
    assert mail_outbox.to("stranger@example.org", timeout=0.3) == []


def test_reset_link_expires_and_a_newer_one_voids_the_older(app, member, mail_outbox):
    setting, email = member
    client = client_for(app, setting.slug)
    for _ in range(2):
        client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client)})
        clock.advance(timedelta(minutes=3))  # not a second tap
    first, second = (
        re.search(r"/password/reset/[\w-]+", text_of(m)).group(0) for m in mail_outbox.to(email)
    )
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200
    clock.advance(timedelta(seconds=app.config["LJ"].RESET_LINK_TTL + 1))
    assert client.get(second).status_code == 410


def test_email_change_is_confirmed_from_the_new_address(app, member, mail_outbox):
    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)
    asked = client.post(
        "/account/email",
        data={
            "new_email": "New.Address@Example.org",
            "current_password": GOOD_PASSWORD,
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    assert asked.status_code == 303
    [notice] = mail_outbox.to(email)
    assert "If this was not you" in text_of(notice)
    [confirm] = mail_outbox.to("new.address@example.org")
    path = re.search(r"/account/email/confirm/[\w-]+", text_of(confirm)).group(0)
    assert path in html_of(confirm)
    assert client.get(path).status_code == 200  # a page with a button: scanners can't confirm
    assert sign_in(client_for(app, setting.slug), "new.address@example.org").status_code == 303
    assert "Hello" not in client_for(app, setting.slug).get("/").text
    done = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert done.status_code == 303
    fresh = client_for(app, setting.slug)
    sign_in(fresh, "new.address@example.org")
    assert "Hello" in fresh.get("/").text
    assert client.post(path, data={"csrf_token": csrf_token(client, "/")}).status_code == 410


def test_an_email_change_link_that_cannot_be_used_says_so_on_opening(
    app, member, mail_outbox, make_setting
):
    """Opening the link shows its problem page at once (used, expired, another setting's),
    not a Confirm button that fails only when pressed."""
    from datetime import timedelta

    from app import clock

    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)

    def ask_for(new_email: str) -> str:
        client.post(
            "/account/email",
            data={
                "new_email": new_email,
                "current_password": GOOD_PASSWORD,
                "csrf_token": csrf_token(client, "/account"),
            },
        )
        [confirm] = mail_outbox.to(new_email)
        return re.search(r"/account/email/confirm/[\w-]+", text_of(confirm)).group(0)

    path = ask_for("first.choice@example.org")
    page = client.get(path)
    assert page.status_code == 200 and "first.choice@example.org" in page.text
    assert client_for(app, make_setting().slug).get(path).status_code == 404
    newer = ask_for("second.choice@example.org")
    replaced = client.get(path)
    assert replaced.status_code == 410 and "replaced by a newer one" in replaced.text
    assert client.post(newer, data={"csrf_token": csrf_token(client, newer)}).status_code == 303
    used = client.get(newer)
    assert used.status_code == 410 and "already been used" in used.text
    assert "Confirm new email address" not in used.text
    sign_in(client, "second.choice@example.org")
    late = ask_for("third.choice@example.org")
    clock.advance(timedelta(seconds=app.config["LJ"].RESET_LINK_TTL + 1))
    assert client.get(late).status_code == 410


def test_a_reset_link_sent_to_the_old_address_dies_with_the_email_change(app, member, mail_outbox):
    """A person changes their address because the old mailbox is not theirs any more (a
    shared family account, a lost job): a reset link still open in it must not let whoever
    reads it choose the account's password and PIN."""
    setting, email = member
    client = client_for(app, setting.slug)
    client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client)})
    [reset] = mail_outbox.to(email)
    reset_path = re.search(r"/password/reset/[\w-]+", text_of(reset)).group(0)
    sign_in(client, email)
    client.post(
        "/account/email",
        data={
            "new_email": "moved@example.org",
            "current_password": GOOD_PASSWORD,
            "csrf_token": csrf_token(client, "/account"),
        },
    )
    [confirm] = mail_outbox.to("moved@example.org")
    path = re.search(r"/account/email/confirm/[\w-]+", text_of(confirm)).group(0)
    assert client.post(path, data={"csrf_token": csrf_token(client, path)}).status_code == 303
    assert client_for(app, setting.slug).get(reset_path).status_code == 410


HOSTILE_VALUES = [
    "x" * 100_000,
    "nul\x00byte",
    "' OR '1'='1'; DROP TABLE users; --",
    "<script>alert(1)</script>",
    "\ufffe\uffff\u202e",  # non-characters and a bidi override
    "",
]
FORMS = {
    "/login": ["email", "password", "pin"],
    "/password/forgot": ["email"],
    "/invitations": ["full_name", "email", "role"],
    "/account/secrets": ["current_password", "current_pin", "new_password", "new_pin"],
    "/account/email": ["new_email", "current_password"],
}


@pytest.mark.parametrize("path", list(FORMS))
@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda v: repr(v[:12]))
def test_hostile_input_to_every_form_gets_a_4xx_never_a_5xx(app, setting_with_manager, path, value):
    setting, manager, _ = setting_with_manager
    token = csrf_token(manager, "/account")
    data = dict.fromkeys(FORMS[path], value)
    answered = manager.post(path, data={**data, "csrf_token": token})
    assert 300 <= answered.status_code < 500, answered.status_code
    if answered.status_code >= 400:
        assert "<script>alert(1)</script>" not in answered.text
    without_csrf = client_for(app, setting.slug).post(path, data=data)
    assert without_csrf.status_code == 400


def test_invalid_utf8_body_gets_a_4xx(setting_with_manager):
    _, manager, _ = setting_with_manager
    body = b"email=%FF%FE&password=%C3%28&pin=%00&csrf_token=" + csrf_token(manager).encode()
    answered = manager.post("/login", data=body, content_type="application/x-www-form-urlencoded")
    assert 300 <= answered.status_code < 500


def test_script_in_a_name_is_stored_as_typed_and_refused_or_escaped(setting_with_manager):
    _, manager, _ = setting_with_manager
    answered = manager.post(
        "/invitations",
        data={
            "full_name": "<script>alert(1)</script>",
            "email": "x@example.org",
            "role": "parent",
            "csrf_token": csrf_token(manager, "/invitations"),
        },
    )
    assert answered.status_code == 422
    assert "<script>alert(1)</script>" not in answered.text
    assert "&lt;script&gt;" in answered.text


def test_pages_carry_security_headers(app, member):
    setting, _ = member
    response = client_for(app, setting.slug).get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers
    secure = client_for(app, setting.slug).get(
        "/login", base_url=f"https://{setting.slug}.localhost"
    )
    assert "max-age" in secure.headers["Strict-Transport-Security"]
    assert "<script>" not in response.text.replace('<script src="/static/', "")


def test_cookie_is_httponly_and_samesite(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    response = sign_in(client, email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires" not in cookie, "no remember-me: the cookie ends with the browser"


def test_no_secret_reaches_an_email_a_log_or_an_error_page(app, member, mail_outbox, caplog):
    setting, email = member
    caplog.set_level(logging.DEBUG)
    client = client_for(app, setting.slug)
    pages = [
        sign_in(client, email, password=GOOD_PASSWORD, pin="999111"),
        sign_in(client, email, password="Wrong" + GOOD_PASSWORD, pin=GOOD_PIN),
    ]
    client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client)})
    pages.append(client.get("/login"))
    bodies = [p.get_data(as_text=True) for p in pages]
    bodies += [m.as_string() for m in mail_outbox.to(email)]
    bodies.append(caplog.text)
    for body in bodies:
        assert GOOD_PASSWORD not in body and GOOD_PIN not in body and "999111" not in body


@pytest.fixture
def app_without_redis(make_app):
    return make_app(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1


def test_redis_down_gives_a_clear_503_never_a_sign_in(app, app_without_redis, member):
    setting, email = member
    client = client_for(app_without_redis, setting.slug)
    for path in ("/login", "/account", "/invitations", "/password/forgot"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "briefly unavailable" in response.text
    signed_in = client_for(app, setting.slug)
    sign_in(signed_in, email)
    cookie = signed_in.session_cookie()
    client.use_session_cookie(cookie)
    assert client.get("/").status_code == 503
    response = client.post(
        "/login", data={"email": email, "password": GOOD_PASSWORD, "pin": GOOD_PIN}
    )
    assert response.status_code == 503


def test_service_resumes_by_itself_when_redis_is_back(app, member, monkeypatch):
    import redis as redis_module

    from app.auth import sessions

    # Each process PINGs Redis at most once a second; here every request checks.
    monkeypatch.setattr(sessions, "HEALTH_CHECK_SECONDS", 0)
    setting, email = member
    client = client_for(app, setting.slug)
    store = app.extensions["redis"]
    real_pool = store.connection_pool
    store.connection_pool = redis_module.ConnectionPool.from_url("redis://127.0.0.1:1/0")
    try:
        assert client.get("/login").status_code == 503
    finally:
        store.connection_pool = real_pool
    assert client.get("/login").status_code == 200
    assert sign_in(client, email).status_code == 303


@pytest.fixture
def https_app(make_app):
    return make_app(SECURE_COOKIES="1", PROXY_HOPS="1")


def test_behind_a_tls_proxy_the_cookie_is_secure_with_a_host_prefix(app, https_app, member):
    setting, email = member
    client = client_for(https_app, setting.slug)
    # The proxy speaks https to the browser and http to us; the cookie jar sees https.
    client.base_url = f"https://{setting.slug}.localhost"
    client.environ_base.update(
        {
            "HTTP_X_FORWARDED_PROTO": "https",
            # Over https, Flask-WTF also checks the Referer is this very site, as browsers send it.
            "HTTP_REFERER": f"https://{setting.slug}.localhost/login",
        }
    )
    response = sign_in(client, email)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-lj_session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert "max-age" in client.get("/login").headers["Strict-Transport-Security"]


def test_sign_ins_failures_locks_and_resets_are_audited(app, member, mail_outbox):
    from sqlalchemy import select

    from app.auth.models import AuditEntry
    from app.extensions import db
    from tenants.binding import tenant_context

    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email, pin="999111")
    sign_in(client, "nobody@example.org")
    sign_in(client, email)
    client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client)})
    with app.app_context(), tenant_context(setting.slug):
        entries = db.session.execute(select(AuditEntry.event, AuditEntry.detail)).all()
    events = [event for event, _ in entries]
    assert events.count("signin_failed") == 2
    assert "signed_in" in events and "reset_requested" in events
    assert GOOD_PASSWORD not in str(entries) and "999111" not in str(entries)


def test_database_down_gives_a_clear_503(make_app, member):
    setting, _ = member
    broken = make_app(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere")
    response = client_for(broken, setting.slug).get("/")
    assert response.status_code == 503
    assert "briefly unavailable" in response.text


def test_broker_down_when_a_reset_is_requested_gives_a_clear_503(app, make_app, member):
    setting, email = member
    queued_by_a_worker = make_app(LJ_TASKS_IN_PROCESS="0")
    client = client_for(queued_by_a_worker, setting.slug)
    token = csrf_token(client, "/password/forgot")
    # Redis still holds the sessions; only the broker connection is gone when the task is sent.
    queued_by_a_worker.extensions["celery"].conf.broker_url = "redis://127.0.0.1:1/0"

    response = client.post("/password/forgot", data={"email": email, "csrf_token": token})

    assert response.status_code == 503
    assert "briefly unavailable" in response.text


def _audited_addresses(app, slug: str) -> list[str | None]:
    from sqlalchemy import select

    from app.auth.models import AuditEntry
    from app.extensions import db
    from tenants.binding import tenant_context

    with app.app_context(), tenant_context(slug):
        return list(db.session.scalars(select(AuditEntry.ip).order_by(AuditEntry.id)))


@pytest.mark.parametrize(
    "forwarded_for",
    ["x" * 100, "<script>alert(1)</script>", "10.0.0.1.5", "fe80::1%" + "e" * 60, "", " , "],
)
def test_garbage_in_x_forwarded_for_is_not_taken_as_the_client_address(
    app, make_app, member, forwarded_for
):
    setting, email = member
    behind_a_proxy = make_app(PROXY_HOPS="1")
    client = client_for(behind_a_proxy, setting.slug)
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for

    refused = sign_in(client, email, pin="999111")  # audited as a failure
    assert refused.headers["Location"].endswith("/login")
    assert sign_in(client, email).status_code == 303

    peer = client.environ_base["REMOTE_ADDR"]
    assert _audited_addresses(app, setting.slug)[-2:] == [peer, peer]


def test_a_proxys_real_client_address_is_audited(app, make_app, member):
    setting, email = member
    client = client_for(make_app(PROXY_HOPS="1"), setting.slug)
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9, 2001:db8::7"

    assert sign_in(client, email).status_code == 303

    assert _audited_addresses(app, setting.slug)[-1] == "2001:db8::7"
