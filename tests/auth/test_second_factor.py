"""A second factor after email, password and PIN: authenticator apps (real TOTP codes),
recovery codes, the pending step, the shared lockout, a manager's reset, and secrecy."""

from __future__ import annotations

import html
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.auth.models import RecoveryCode, TotpAuthenticator, User
from app.extensions import db
from app.security.sealing import SealBroken, seal, unseal
from tenants.binding import tenant_context
from tests.auth.second_factor_steps import (
    RECOVERY_CODE_SHOWN,
    audit_events,
    code_now,
    enrol_totp,
    give_code,
    sign_out,
    start_at_a_step_boundary,
)
from tests.fixtures.smtp import html_of, text_of
from tests.helpers.clients import GOOD_PASSWORD, client_for, csrf_token, make_user, sign_in


@pytest.fixture
def enrolled(app, make_setting, mail_outbox):
    """A member of staff who has set up an authenticator app, signed out again."""
    start_at_a_step_boundary()
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff")
    client = client_for(app, setting.slug)
    assert sign_in(client, email).headers["Location"] == "/"
    secret, codes = enrol_totp(client)
    sign_out(client)
    clock.advance(timedelta(seconds=30))  # the enrolment's code is used; a new step begins
    return setting, client, email, secret, codes


def _signed_in(client) -> bool:
    return "Hello Sam" in client.get("/").text


def test_after_password_and_pin_a_person_with_an_app_is_asked_for_a_code_before_any_page(
    enrolled,
):
    _setting, client, email, secret, _ = enrolled
    response = sign_in(client, email)
    assert response.headers["Location"] == "/login/second-factor"
    for page in ("/", "/people/children", "/account", "/journal/"):
        held = client.get(page)
        assert held.status_code == 303 and held.headers["Location"] == "/login/second-factor"
    assert not _signed_in(client)

    response = give_code(client, code_now(secret))
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert _signed_in(client)


def test_the_pending_step_has_its_own_session_id(app, enrolled):
    setting, client, email, secret, _ = enrolled
    csrf_token(client)
    before = client.session_cookie()
    sign_in(client, email)
    pending = client.session_cookie()
    give_code(client, code_now(secret))
    signed_in = client.session_cookie()
    assert len({before, pending, signed_in}) == 3
    # The pending session's id names nothing once signed in.
    stale = client_for(app, setting.slug)
    stale.use_session_cookie(pending)
    assert not _signed_in(stale)


def test_a_code_is_accepted_once(app, enrolled):
    _setting, client, email, secret, _ = enrolled
    code = code_now(secret)
    sign_in(client, email)
    assert give_code(client, code).headers["Location"] == "/"
    sign_out(client)

    sign_in(client, email)
    replayed = give_code(client, code)
    assert replayed.headers["Location"] == "/login/second-factor"
    assert "not right" in client.get("/login/second-factor").text
    assert not _signed_in(client)
    # The next step's code (the app has moved on) is fine.
    clock.advance(timedelta(seconds=30))
    assert give_code(client, code_now(secret)).headers["Location"] == "/"


@pytest.mark.parametrize("steps_away", [-1, 1])
def test_a_code_one_step_early_or_late_is_accepted(enrolled, steps_away):
    _setting, client, email, secret, _ = enrolled
    clock.advance(timedelta(seconds=60))  # after the enrolment's step, either way
    sign_in(client, email)
    assert give_code(client, code_now(secret, steps_away)).headers["Location"] == "/"


FULL_WIDTH_DIGITS = {ord(digit): 0xFF10 + int(digit) for digit in "0123456789"}


def test_a_code_typed_in_full_width_digits_is_the_same_code(enrolled):
    _setting, client, email, secret, _ = enrolled
    sign_in(client, email)
    typed = code_now(secret).translate(FULL_WIDTH_DIGITS)  # a phone's Japanese keyboard
    assert give_code(client, typed).headers["Location"] == "/"


def test_digits_of_another_script_are_a_wrong_code_not_an_error(enrolled):
    _setting, client, email, _secret, _ = enrolled
    sign_in(client, email)
    arabic_indic = "\u0661\u0662\u0663\u0664\u0665\u0666"
    answered = give_code(client, arabic_indic)
    assert answered.headers["Location"] == "/login/second-factor"
    assert "not right" in client.get("/login/second-factor").text


@pytest.mark.parametrize("steps_away", [-2, 2])
def test_a_code_two_steps_away_is_refused(enrolled, steps_away):
    _setting, client, email, secret, _ = enrolled
    clock.advance(timedelta(seconds=90))
    sign_in(client, email)
    assert give_code(client, code_now(secret, steps_away)).headers["Location"] != "/"
    assert not _signed_in(client)


def test_each_recovery_code_signs_in_once(app, enrolled):
    setting, client, email, _secret, codes = enrolled
    assert len(codes) == 10 and len(set(codes)) == 10
    sign_in(client, email)
    assert give_code(client, codes[0].upper().replace("-", " ")).headers["Location"] == "/"
    sign_out(client)
    sign_in(client, email)
    assert give_code(client, codes[0]).headers["Location"] == "/login/second-factor"
    assert give_code(client, codes[1]).headers["Location"] == "/"
    # Only digests are stored.
    with app.app_context(), tenant_context(setting.slug):
        stored = db.session.scalars(select(RecoveryCode.code_digest)).all()
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & {s.replace("-", "") for s in stored}


def test_the_pending_step_expires(app, enrolled):
    _setting, client, email, _secret, _ = enrolled
    sign_in(client, email)
    clock.advance(timedelta(seconds=app.config["LJ"].SECOND_FACTOR_STEP_TTL + 1))
    held = client.get("/")
    assert held.headers["Location"] == "/login"
    assert "took too long" in client.get("/login").text
    assert client.get("/login/second-factor").headers["Location"] == "/login"
    assert not _signed_in(client)


def _failures(app, slug: str, email: str) -> User:
    with app.app_context(), tenant_context(slug):
        return db.session.scalar(select(User).where(User.email == email))


def test_wrong_codes_count_toward_the_sign_in_lockout(app, enrolled):
    setting, client, email, _secret, _ = enrolled
    # Two wrong PINs, then three wrong codes after the right password and PIN:
    # the right password and PIN forgive nothing while the code is still owed.
    for _ in range(2):
        sign_in(client, email, pin="999111")
    sign_in(client, email)
    for _ in range(2):
        assert give_code(client, "000000").headers["Location"] == "/login/second-factor"
    assert _failures(app, setting.slug, email).failed_signins == 4
    stopped = give_code(client, "000000")
    assert stopped.headers["Location"] == "/login"
    assert "wait 15 minutes" in client.get("/login").text
    assert _failures(app, setting.slug, email).cooldown_until is not None
    # Cooling down: even the right password, PIN and code do not sign in.
    sign_in(client, email)
    assert not _signed_in(client)

    clock.advance(timedelta(minutes=16))
    sign_in(client, email)
    for _ in range(4):
        give_code(client, "000000")
    assert give_code(client, "000000").headers["Location"] == "/login"
    assert _failures(app, setting.slug, email).locked_at is not None
    events = [event for event, _ in audit_events(app, setting.slug)]
    assert events.count("second_factor.failed") == 8
    assert "locked" in events


def test_a_right_code_forgives_earlier_failures(app, enrolled):
    setting, client, email, secret, _ = enrolled
    sign_in(client, email)
    give_code(client, "000000")
    give_code(client, code_now(secret))
    assert _signed_in(client)
    assert _failures(app, setting.slug, email).failed_signins == 0


def test_enrolment_use_and_removal_are_audited_and_emailed_without_secrets(
    app, member, mail_outbox, caplog
):
    caplog.set_level(logging.DEBUG)
    start_at_a_step_boundary()
    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)
    secret, codes = enrol_totp(client)
    sign_out(client)
    clock.advance(timedelta(seconds=30))
    sign_in(client, email)
    give_code(client, code_now(secret))
    sign_out(client)
    sign_in(client, email)
    give_code(client, codes[2])
    token = csrf_token(client, "/account/second-factor")
    removed = client.post(
        "/account/second-factor/totp/remove",
        data={"csrf_token": token, "current_password": GOOD_PASSWORD},
    )
    assert removed.status_code == 303

    events = [event for event, _ in audit_events(app, setting.slug)]
    for event in ("second_factor.added", "second_factor.used", "second_factor.removed"):
        assert event in events
    messages = [text_of(m) + html_of(m) for m in mail_outbox.to(email)]
    assert any("authenticator app was added" in m.lower() for m in messages)
    assert any("with an authenticator app" in m for m in messages)
    assert any("with a recovery code" in m for m in messages)
    assert any("was removed" in m for m in messages)
    secrets = [secret, secret.lower(), *codes, *(c.replace("-", "") for c in codes)]
    everything = " ".join(messages) + caplog.text + str(audit_events(app, setting.slug))
    assert not [s for s in secrets if s in everything]
    # With no factor left, the recovery codes went too, and password and PIN sign in.
    sign_out(client)
    assert sign_in(client, email).headers["Location"] == "/"


def test_the_secret_is_stored_sealed_and_opens_only_for_its_owner(app, enrolled):
    setting, _client, _email, secret, _ = enrolled
    with app.app_context(), tenant_context(setting.slug):
        row = db.session.scalar(select(TotpAuthenticator))
        assert secret not in row.sealed_secret
        assert unseal(row.sealed_secret, f"totp:{row.user_id}") == secret
        with pytest.raises(SealBroken):
            unseal(row.sealed_secret, f"totp:{row.user_id + 1}")


def test_a_secret_sealed_with_another_key_does_not_open(app, make_app):
    with app.app_context():
        sealed = seal("JBSWY3DPEHPK3PXP", "totp:1")
    with make_app(TOTP_KEY="another key entirely").app_context(), pytest.raises(SealBroken):
        unseal(sealed, "totp:1")


def test_a_manager_resets_a_lost_factor_ending_every_session(app, enrolled, mail_outbox):
    setting, client, email, secret, _ = enrolled
    sign_in(client, email)
    give_code(client, code_now(secret))
    assert _signed_in(client)
    with app.app_context():
        manager = make_user(setting.slug, role="manager", email=f"boss-{setting.slug}@example.org")
    boss = client_for(app, setting.slug)
    sign_in(boss, manager)
    member_id = _failures(app, setting.slug, email).id
    assert "Reset second factor" in boss.get("/invitations").text
    reset = boss.post(
        f"/accounts/{member_id}/second-factor/reset",
        data={"csrf_token": csrf_token(boss, "/invitations")},
    )
    assert reset.status_code == 303
    assert not _signed_in(client), "the person's sessions end"
    assert "second_factor.reset" in [event for event, _ in audit_events(app, setting.slug)]
    assert any("removed your second factors" in text_of(m) for m in mail_outbox.to(email))
    # Password and PIN alone sign in again (no policy here).
    assert sign_in(client, email).headers["Location"] == "/"


def test_a_staff_member_cannot_reset_anyone(app, enrolled):
    setting, _client, email, _secret, _ = enrolled
    with app.app_context():
        other = make_user(setting.slug, role="staff", email=f"other-{setting.slug}@example.org")
    peer = client_for(app, setting.slug)
    sign_in(peer, other)
    member_id = _failures(app, setting.slug, email).id
    refused = peer.post(
        f"/accounts/{member_id}/second-factor/reset",
        data={"csrf_token": csrf_token(peer, "/account")},
    )
    assert refused.status_code == 403


def test_a_wrong_first_code_does_not_enrol(app, member):
    start_at_a_step_boundary()
    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)
    token = csrf_token(client, "/account/second-factor")
    client.post("/account/second-factor/totp", data={"csrf_token": token})
    refused = client.post(
        "/account/second-factor/totp/confirm", data={"code": "123456", "csrf_token": token}
    )
    assert refused.status_code == 422
    sign_out(client)
    assert sign_in(client, email).headers["Location"] == "/"


def test_the_step_pages_send_a_signed_in_person_home_and_keep_them_signed_in(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)
    for page in ("/login/second-factor", "/login/second-factor/enrol"):
        assert client.get(page).headers["Location"] == "/"
    assert _signed_in(client)


def test_a_borrowed_session_cannot_take_the_second_factor_away(app, enrolled):
    """Removing the authenticator app or making new recovery codes asks for the current
    password: someone at a computer left signed in must not be able to strip the account
    of its second factor (or take its recovery codes) with one click. A wrong password
    changes nothing and counts toward the lockout, as on the other account forms."""
    setting, client, email, secret, _codes = enrolled
    sign_in(client, email)
    give_code(client, code_now(secret))
    for path in ("/account/second-factor/totp/remove", "/account/second-factor/recovery-codes"):
        for password in ("", "not the password at all"):
            token = csrf_token(client, "/account/second-factor")
            refused = client.post(path, data={"csrf_token": token, "current_password": password})
            assert refused.status_code == 422, (path, password)
            assert "password" in refused.text.lower()
    assert _failures(app, setting.slug, email).failed_signins == 2
    with app.app_context(), tenant_context(setting.slug):
        assert db.session.scalars(select(TotpAuthenticator)).all() != []
        assert len(db.session.scalars(select(RecoveryCode)).all()) == 10
    token = csrf_token(client, "/account/second-factor")
    removed = client.post(
        "/account/second-factor/totp/remove",
        data={"csrf_token": token, "current_password": GOOD_PASSWORD},
    )
    assert removed.status_code == 303
    with app.app_context(), tenant_context(setting.slug):
        assert db.session.scalars(select(TotpAuthenticator)).all() == []


# A browser's passkey answer is JSON three levels deep; this one is 9,000 (18,000
# characters: within the form field's 20,000).
DEEPLY_NESTED_ANSWER = "[" * 9000 + "]" * 9000


def test_a_passkey_answer_nested_thousands_deep_is_refused_like_a_wrong_passkey(app, enrolled):
    setting, client, email, _secret, _ = enrolled
    sign_in(client, email)
    token = csrf_token(client, "/login/second-factor")
    client.post("/login/second-factor/passkey/options", data={"csrf_token": token})
    refused = client.post(
        "/login/second-factor/passkey",
        data={"credential": DEEPLY_NESTED_ANSWER, "csrf_token": token},
    )
    assert refused.status_code == 303
    assert refused.headers["Location"] == "/login/second-factor"
    assert "passkey was not accepted" in client.get("/login/second-factor").text
    assert _failures(app, setting.slug, email).failed_signins == 1


def test_a_new_passkey_nested_thousands_deep_is_refused_with_a_message(setting_with_manager):
    _setting, client, _email = setting_with_manager
    token = csrf_token(client, "/account/second-factor")
    client.post("/account/passkeys/options", data={"csrf_token": token})
    refused = client.post(
        "/account/passkeys",
        data={"credential": DEEPLY_NESTED_ANSWER, "name": "Phone", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert "could not be checked" in refused.text


def test_a_manager_cannot_reset_their_own_second_factor_without_their_password(app, make_setting):
    """The reset is for someone else's lost phone: on their own account a manager removes a
    factor on their account page, which asks for the password (a borrowed session must not
    strip the account of its second factor with one click)."""
    start_at_a_step_boundary()
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="manager")
    client = client_for(app, setting.slug)
    sign_in(client, email)
    enrol_totp(client)
    own_id = _failures(app, setting.slug, email).id
    refused = client.post(
        f"/accounts/{own_id}/second-factor/reset",
        data={"csrf_token": csrf_token(client, "/invitations")},
    )
    assert refused.status_code == 409
    assert "account page" in refused.text
    assert client.get("/account").status_code == 200, "still signed in"
    with app.app_context(), tenant_context(setting.slug):
        assert db.session.scalars(select(TotpAuthenticator)).all() != []
        assert len(db.session.scalars(select(RecoveryCode)).all()) == 10
    assert "second_factor.reset" not in [event for event, _ in audit_events(app, setting.slug)]


def test_a_reset_of_someone_without_a_second_factor_changes_nothing(
    app, setting_with_manager, mail_outbox
):
    """The page offers the reset only beside people with a factor: posted for someone
    without one, it must not sign them out everywhere nor email them that a manager removed
    their second factors."""
    setting, boss, _manager = setting_with_manager
    with app.app_context():
        email = make_user(setting.slug, role="staff")
    member = client_for(app, setting.slug)
    sign_in(member, email)
    refused = boss.post(
        f"/accounts/{_failures(app, setting.slug, email).id}/second-factor/reset",
        data={"csrf_token": csrf_token(boss, "/invitations")},
    )
    assert refused.status_code == 409
    assert "has no second factor to reset" in refused.text
    assert _signed_in(member)
    assert not any("removed your second factors" in text_of(m) for m in mail_outbox.to(email))
    assert "second_factor.reset" not in [event for event, _ in audit_events(app, setting.slug)]


def test_new_recovery_codes_replace_the_old_ones_which_stop_working(app, enrolled, mail_outbox):
    setting, client, email, secret, old_codes = enrolled
    sign_in(client, email)
    give_code(client, code_now(secret))
    made = client.post(
        "/account/second-factor/recovery-codes",
        data={
            "csrf_token": csrf_token(client, "/account/second-factor"),
            "current_password": GOOD_PASSWORD,
        },
    )
    assert made.status_code == 200
    new_codes = [html.unescape(c) for c in RECOVERY_CODE_SHOWN.findall(made.text)]
    assert len(set(new_codes)) == 10 and not set(new_codes) & set(old_codes)
    assert "10 unused recovery codes" in client.get("/account/second-factor").text
    sign_out(client)

    sign_in(client, email)
    assert give_code(client, old_codes[0]).headers["Location"] == "/login/second-factor"
    assert give_code(client, new_codes[0]).headers["Location"] == "/"
    assert "9 unused recovery codes" in client.get("/account/second-factor").text
    assert "second_factor.recovery_codes_replaced" in [
        event for event, _ in audit_events(app, setting.slug)
    ]
    assert any("New recovery codes were made" in text_of(m) for m in mail_outbox.to(email))
