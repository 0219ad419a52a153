"""Sign-in with email + password + PIN: one answer for every refusal, lockout, rate limits."""

from __future__ import annotations

import re
import statistics
import time
import unicodedata
from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.auth.models import User
from app.extensions import db, limiter
from tenants.binding import tenant_context
from tests.fixtures.smtp import text_of
from tests.helpers.clients import (
    CSRF_FIELD,
    GOOD_PASSWORD,
    GOOD_PIN,
    client_for,
    csrf_token,
    make_user,
    sign_in,
)


def _refusal(client, email, password, pin):
    """The answer to a refused sign-in, byte for byte, and the page it leads to.

    That page differs between sessions only by the session's own CSRF token.
    """
    response = sign_in(client, email, password, pin)
    page = client.get(response.headers.get("Location", "/login"))
    page_text = CSRF_FIELD.sub("csrf", page.text)
    return response.status_code, response.data, page.status_code, page_text


def test_correct_credentials_sign_in_with_a_new_session_id(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    csrf_token(client)
    before = client.session_cookie()
    response = sign_in(client, email)
    assert response.status_code == 303
    after = client.session_cookie()
    assert after != before
    assert "Hello Sam" in client.get("/").text
    # The pre-sign-in id names nothing any more (a planted id is useless).
    planted = client_for(app, setting.slug)
    planted.use_session_cookie(before)
    assert "Hello Sam" not in planted.get("/").text


def test_every_wrong_credential_gets_the_same_answer(app, member):
    setting, email = member
    answers = set()
    for attempt_email, password, pin in [
        ("nobody@example.org", GOOD_PASSWORD, GOOD_PIN),
        (email, "wrong password entirely", GOOD_PIN),
        (email, GOOD_PASSWORD, "999111"),
    ]:
        answers.add(_refusal(client_for(app, setting.slug), attempt_email, password, pin))
    assert len(answers) == 1
    status, _, page_status, page = answers.pop()
    assert status == 303 and page_status == 200
    assert "not recognised" in page


def test_deactivated_and_locked_accounts_get_the_same_answer_as_a_wrong_pin(app, member):
    setting, email = member
    wrong_pin = _refusal(client_for(app, setting.slug), email, GOOD_PASSWORD, "999111")
    with app.app_context(), tenant_context(setting.slug):
        user = db.session.scalar(select(User).where(User.email == email))
        user.locked_at = clock.now()
        db.session.commit()
    assert _refusal(client_for(app, setting.slug), email, GOOD_PASSWORD, GOOD_PIN) == wrong_pin


def test_unknown_and_known_emails_take_about_the_same_time(make_app, make_setting):
    # Real-ish costs, so bcrypt (not request noise) sets the time, as in production.
    slow = make_app(PASSWORD_BCRYPT_COST="9", PIN_BCRYPT_COST="8", RATELIMIT_ENABLED="0")
    setting = make_setting()
    with slow.app_context():
        email = make_user(setting.slug, role="parent")
    client = client_for(slow, setting.slug)
    token = csrf_token(client)

    def timed(address: str) -> float:
        started = time.perf_counter()
        client.post(
            "/login",
            data={
                "email": address,
                "password": "wrong password here",
                "pin": "999111",
                "csrf_token": token,
            },
        )
        return time.perf_counter() - started

    known, unknown = [], []
    for i in range(4):  # stays under the cool-down threshold of 5 failures
        known.append(timed(email))
        unknown.append(timed(f"nobody{i}@example.org"))
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 < ratio < 2.0, (known, unknown)


def test_five_failures_cool_down_then_ten_lock_until_reset(app, member, mail_outbox):
    setting, email = member
    client = client_for(app, setting.slug)

    def fail_five_times():
        # Minutes pass between attempts in this story; the per-minute rate limit
        # (tested below) runs on Redis's real clock, so start it afresh.
        with app.app_context():
            limiter.reset()
        for _ in range(5):
            assert sign_in(client, email, pin="999111").status_code == 303

    fail_five_times()
    # Even the right credentials are refused during the cool-down.
    assert sign_in(client, email).headers["Location"].endswith("/login")
    clock.advance(timedelta(minutes=16))
    assert sign_in(client, email).status_code == 303
    assert "Hello" in client.get("/").text
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})

    fail_five_times()
    clock.advance(timedelta(minutes=16))
    fail_five_times()
    clock.advance(timedelta(hours=2))
    sign_in(client, email)
    assert "Hello" not in client.get("/").text, "a locked account signed in"
    with app.app_context(), tenant_context(setting.slug):
        user = db.session.scalar(select(User).where(User.email == email))
        assert user.locked_at is not None

    # Only a reset by email lifts the lock.
    [locked_notice] = mail_outbox.to(email)  # tested in test_the_owner_of_a_locked_account…
    client.post("/password/forgot", data={"email": email, "csrf_token": csrf_token(client)})
    [message] = [m for m in mail_outbox.to(email) if m is not locked_notice]
    path = re.search(r"/password/reset/[\w-]+", text_of(message)).group(0)
    new = "a completely new passphrase"
    client.post(
        path,
        data={
            "password": new,
            "password_again": new,
            "pin": "730164",
            "pin_again": "730164",
            "csrf_token": csrf_token(client),
        },
    )
    assert sign_in(client, email, password=new, pin="730164").status_code == 303
    assert "Hello" in client.get("/").text


def test_the_owner_of_a_locked_account_is_emailed_once_how_to_unlock_it(app, member, mail_outbox):
    setting, email = member
    client = client_for(app, setting.slug)

    def fail_five_times():
        with app.app_context():
            limiter.reset()  # minutes pass between attempts (the rate limit runs on Redis's clock)
        for _ in range(5):
            sign_in(client, email, password="a wrong guess of a password", pin="999111")

    fail_five_times()
    assert mail_outbox.to(email, timeout=0.5) == [], "a cool-down is not a lock"
    clock.advance(timedelta(minutes=16))
    fail_five_times()
    [notice] = mail_outbox.to(email)
    assert setting.name in notice["Subject"] and "locked" in notice["Subject"]
    body = text_of(notice)
    assert "10 wrong attempts" in body and "Forgotten your password or PIN?" in body
    assert f"{setting.slug}.localhost" in body and "/password/forgot" in body
    assert "a wrong guess" not in body and "999111" not in body and GOOD_PIN not in body
    fail_five_times()  # locked already: no second notice
    assert len(mail_outbox.to(email)) == 1


def test_many_attempts_on_one_account_get_429(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    statuses = [sign_in(client, email, pin="999111").status_code for _ in range(12)]
    assert 429 in statuses
    limited = sign_in(client, email)
    assert limited.status_code == 429
    assert "Too many attempts" in limited.text
    # In words a person reads, not the limiter's own notation ("10 per 1 minute").
    assert "Please wait" in limited.text and " per 1 minute" not in limited.text


def test_the_sign_in_answer_says_how_many_attempts_are_left_and_other_pages_do_not(app, member):
    """The limit headers are written where a limit was checked, and only there (the
    limiter's after-request step runs only in such requests)."""
    setting, email = member
    client = client_for(app, setting.slug)
    refused = sign_in(client, email, pin="999111")
    assert refused.headers["X-RateLimit-Limit"] == "10"  # the per-account limit, per minute
    assert refused.headers["X-RateLimit-Remaining"] == "9"
    assert int(refused.headers["X-RateLimit-Reset"]) > time.time()
    assert sign_in(client, email, pin="999111").headers["X-RateLimit-Remaining"] == "8"
    form = client.get("/login")
    assert form.status_code == 200
    assert not [name for name, _ in form.headers if name.startswith("X-RateLimit")]


def test_stored_hashes_are_bcrypt_and_differ_for_equal_secrets(app, make_setting):
    setting = make_setting()
    with app.app_context():
        first = make_user(setting.slug, role="staff")
        second = make_user(setting.slug, role="staff")
        with tenant_context(setting.slug):
            hashes = db.session.execute(
                select(User.password_hash, User.pin_hash).where(User.email.in_([first, second]))
            ).all()
    (pw1, pin1), (pw2, pin2) = hashes
    assert all(h.startswith("$2b$") for h in (pw1, pin1, pw2, pin2))
    assert pw1 != pw2 and pin1 != pin2


def test_logout_must_be_a_post(app, member):
    setting, email = member
    client = client_for(app, setting.slug)
    sign_in(client, email)
    assert client.get("/logout").status_code == 405
    assert "Hello" in client.get("/").text


def test_signing_in_upgrades_hashes_made_at_an_older_cost(make_app, make_setting):
    setting = make_setting()
    with make_app().app_context():  # the test app's costs (4): an "old" deployment
        email = make_user(setting.slug, role="staff")
    upgraded = make_app(PASSWORD_BCRYPT_COST="5", PIN_BCRYPT_COST="6")
    assert sign_in(client_for(upgraded, setting.slug), email).headers["Location"] == "/"
    with upgraded.app_context(), tenant_context(setting.slug):
        password_hash, pin_hash = db.session.execute(
            select(User.password_hash, User.pin_hash).where(User.email == email)
        ).one()
    assert password_hash.startswith("$2b$05$") and pin_hash.startswith("$2b$06$")
    again = client_for(upgraded, setting.slug)
    assert sign_in(again, email).headers["Location"] == "/"


def test_a_reset_for_a_known_email_answers_in_the_same_time_as_for_an_unknown_one(
    make_app, make_setting
):
    """The request hands any address to a worker, which looks it up and queues the email.

    Sending in the request made a known address answer 2.5 times slower (measured here)."""
    production_like = make_app(RATELIMIT_ENABLED="0", LJ_TASKS_IN_PROCESS="0")
    setting = make_setting()
    with production_like.app_context():
        email = make_user(setting.slug, role="parent")
    client = client_for(production_like, setting.slug)
    token = csrf_token(client, "/password/forgot")

    def timed(address: str) -> float:
        started = time.perf_counter()
        answer = client.post("/password/forgot", data={"email": address, "csrf_token": token})
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200
        return elapsed

    known, unknown = [], []
    try:
        for i in range(40):  # interleaved, so a busy moment of the machine hits both
            known.append(timed(email))
            unknown.append(timed(f"nobody{i}@example.org"))
    finally:
        production_like.extensions["celery"].control.purge()
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.67 < ratio < 1.5, (known, unknown)


def test_an_email_is_recognised_however_the_keyboard_composed_its_accents(app, make_setting):
    """An invitation stores the address normalised (NFC, the domain as IDNA reads it); a
    person who types it with combining accents (as some keyboards and pastes do), or the
    domain in its ASCII form, is the same person and signs in."""
    from app.validation import clean_email

    setting = make_setting()
    with app.app_context():
        stored = make_user(setting.slug, role="parent", email=clean_email("Zoë.Ünal@Exämple.org"))
    for typed in (
        unicodedata.normalize("NFD", stored),
        unicodedata.normalize("NFD", "ZOË.ÜNAL@EXÄMPLE.ORG"),
        "zoë.ünal@xn--exmple-cua.org",
    ):
        response = sign_in(client_for(app, setting.slug), typed)
        assert response.headers["Location"] == "/", typed


def test_a_sign_in_page_left_open_too_long_says_so_in_plain_words(app, member):
    """A sign-in page left open past the idle timeout holds a form whose session is gone:
    the answer stays a 400 (nothing is done without the form's token), and says what
    happened and what to do, not "The CSRF session token is missing."."""
    setting, email = member
    client = client_for(app, setting.slug)
    token = csrf_token(client)
    clock.advance(timedelta(seconds=app.config["LJ"].SESSION_IDLE_TIMEOUT + 60))
    response = client.post(
        "/login",
        data={"email": email, "password": GOOD_PASSWORD, "pin": GOOD_PIN, "csrf_token": token},
    )
    assert response.status_code == 400
    assert "CSRF" not in response.text
    assert "expired" in response.text and "nothing was" in response.text
    missing = client.post("/login", data={"email": email, "password": GOOD_PASSWORD})
    assert missing.status_code == 400 and "CSRF" not in missing.text


def test_a_pin_typed_or_pasted_with_spaces_around_it_signs_in(app, member):
    """Phone keyboards and password managers add a space after a word or before a paste:
    the PIN is its six digits, whatever blank surrounds them."""
    setting, email = member
    for typed in (f" {GOOD_PIN}", f"{GOOD_PIN} ", f"\t{GOOD_PIN}\u00a0"):
        response = sign_in(client_for(app, setting.slug), email, pin=typed)
        assert response.headers.get("Location") == "/", repr(typed)
