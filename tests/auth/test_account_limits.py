"""Limits on one account: kept per setting, and counting every check of the current secrets."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.auth.models import AuditEntry, User
from app.extensions import db
from tenants.binding import tenant_context
from tests.helpers.clients import (
    GOOD_PASSWORD,
    GOOD_PIN,
    client_for,
    csrf_token,
    make_user,
    sign_in,
)

WRONG_PASSWORD = "not my password at all"


def _same_email_in_two_settings(app, make_setting) -> tuple[str, str, str]:
    setting_a, setting_b = make_setting(), make_setting()
    email = "p2@example.org"
    with app.app_context():
        make_user(setting_a.slug, role="parent", email=email)
        make_user(setting_b.slug, role="parent", email=email)
    return setting_a.slug, setting_b.slug, email


def test_failed_sign_ins_at_one_setting_do_not_limit_the_same_email_at_another(app, make_setting):
    slug_a, slug_b, email = _same_email_in_two_settings(app, make_setting)
    attacker = client_for(app, slug_b)
    statuses = [sign_in(attacker, email, pin="999111").status_code for _ in range(12)]
    assert 429 in statuses, "the per-account limit still holds at setting B"

    response = sign_in(client_for(app, slug_a), email)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_resets_asked_at_one_setting_do_not_limit_the_same_email_at_another(
    app, make_setting, mail_outbox
):
    slug_a, slug_b, email = _same_email_in_two_settings(app, make_setting)

    def ask_reset(slug: str) -> int:
        client = client_for(app, slug)  # a new device each time: only the account limit
        return client.post(
            "/password/forgot", data={"email": email, "csrf_token": csrf_token(client)}
        ).status_code

    assert [ask_reset(slug_b) for _ in range(4)] == [200, 200, 200, 429]
    assert ask_reset(slug_a) == 200


def _audit_events(app, slug: str) -> list[tuple[str, dict]]:
    with app.app_context(), tenant_context(slug):
        rows = db.session.execute(select(AuditEntry.event, AuditEntry.detail))
        return [(event, detail) for event, detail in rows]


def _user(app, slug: str, email: str) -> User:
    with app.app_context(), tenant_context(slug):
        user = db.session.scalars(select(User).where(User.email == email)).one()
        db.session.expunge(user)
        return user


def _change_email(client, password: str):
    return client.post(
        "/account/email",
        data={
            "new_email": "elsewhere@example.org",
            "current_password": password,
            "csrf_token": csrf_token(client, "/account"),
        },
    )


def _change_pin(client, password: str):
    return client.post(
        "/account/secrets",
        data={
            "current_password": password,
            "current_pin": GOOD_PIN,
            "new_pin": "730164",
            "csrf_token": csrf_token(client, "/account"),
        },
    )


def test_wrong_current_passwords_count_toward_the_sign_in_lockout(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    assert sign_in(client, email).status_code == 303

    for _ in range(5):
        refused = _change_email(client, WRONG_PASSWORD)
        assert refused.status_code == 422
        assert "current password is not right" in refused.text
    assert _user(app, setting.slug, email).failed_signins == 5

    # Cooling down: the right password is refused here, and so is signing in elsewhere.
    assert "Too many wrong attempts" in _change_email(client, GOOD_PASSWORD).text
    other_device = client_for(app, setting.slug)
    assert sign_in(other_device, email).headers["Location"].endswith("/login")

    clock.advance(timedelta(minutes=16))
    for _ in range(4):
        assert "not right" in _change_pin(client, WRONG_PASSWORD).text
    locked = _change_pin(client, WRONG_PASSWORD)
    assert locked.status_code == 303, "the tenth failure locks the account and signs out"
    assert client.get("/account").status_code == 302
    assert _user(app, setting.slug, email).locked_at is not None
    assert sign_in(other_device, email).headers["Location"].endswith("/login")

    events = [event for event, _ in _audit_events(app, setting.slug)]
    assert events.count("recheck_failed") == 10
    assert {"cooldown", "locked", "recheck_refused"} <= set(events)
    assert GOOD_PASSWORD not in str(_audit_events(app, setting.slug))
    assert WRONG_PASSWORD not in str(_audit_events(app, setting.slug))


def test_a_right_current_password_clears_earlier_failures(app, member, mail_outbox):
    setting, email = member
    client = client_for(app, setting.slug)
    assert sign_in(client, email).status_code == 303
    for _ in range(3):
        _change_email(client, WRONG_PASSWORD)
    assert _change_email(client, GOOD_PASSWORD).status_code == 303
    assert _user(app, setting.slug, email).failed_signins == 0
    details = [detail for event, detail in _audit_events(app, setting.slug)]
    assert {"purpose": "email_change"} in details
