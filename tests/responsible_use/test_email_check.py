"""Email kept current: once a year (as the setting chooses) everyone is asked at sign-in
whether their address is still right; the manager sees who has not confirmed."""

from __future__ import annotations

import re
from datetime import timedelta

from app import clock
from tests.fixtures.smtp import text_of
from tests.helpers.clients import GOOD_PASSWORD, client_for, csrf_token, make_user, sign_in

ASKED = "/account/email-check?next=/"


def save_rules(manager, sharing_rule: str, email_check_months: str):
    """The manager saves the sharing rule and how often emails are checked."""
    return manager.post(
        "/responsible-use/rules",
        data={
            "sharing_rule": sharing_rule,
            "email_check_months": email_check_months,
            "csrf_token": csrf_token(manager, "/responsible-use"),
        },
    )


def _not_confirmed_list(manager) -> str:
    page = manager.get("/responsible-use").text
    return page[page.index("Email addresses not confirmed") :]


def test_a_year_on_sign_in_asks_once_and_yes_is_recorded(app, make_setting):
    setting = make_setting()
    with app.app_context():
        manager_email = make_user(setting.slug, role="manager", full_name="Mina Manager")
        parent_email = make_user(setting.slug, role="parent", full_name="Ola Parent")
    parent, manager = client_for(app, setting.slug), client_for(app, setting.slug)
    assert sign_in(parent, parent_email).headers["Location"] == "/", "not asked in the first year"

    clock.advance(timedelta(days=366))
    assert sign_in(manager, manager_email).headers["Location"] == ASKED
    assert manager.get("/").status_code == 200, "a question, not a gate"
    assert "Ola Parent" in _not_confirmed_list(manager)

    assert sign_in(parent, parent_email).headers["Location"] == ASKED
    page = parent.get(ASKED).text
    assert parent_email in page and "Is your email address still right?" in page
    answered = parent.post(ASKED, data={"csrf_token": csrf_token(parent, ASKED)})
    assert answered.status_code == 303 and answered.headers["Location"] == "/"

    assert "Ola Parent" not in _not_confirmed_list(manager)
    assert sign_in(parent, parent_email).headers["Location"] == "/", "asked once a year"


def test_a_changed_address_goes_through_the_confirmed_change(app, make_setting, mail_outbox):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff")
    clock.advance(timedelta(days=400))
    staff = client_for(app, setting.slug)
    assert sign_in(staff, email).headers["Location"] == ASKED
    changed = staff.post(
        "/account/email?next=/",
        data={
            "new_email": "new.address@example.org",
            "current_password": GOOD_PASSWORD,
            "csrf_token": csrf_token(staff, ASKED),
        },
    )
    assert changed.status_code == 303
    assert mail_outbox.to(email), "the old address is told"
    [confirm] = mail_outbox.to("new.address@example.org")
    path = re.search(r"/account/email/confirm/[\w-]+", text_of(confirm)).group(0)
    staff.post(path, data={"csrf_token": csrf_token(staff, path)})
    assert sign_in(staff, "new.address@example.org").headers["Location"] == "/"


def test_the_setting_chooses_how_often(app, make_setting):
    setting = make_setting()
    with app.app_context():
        manager_email = make_user(setting.slug, role="manager")
        staff_email = make_user(setting.slug, role="staff")
    manager, staff = client_for(app, setting.slug), client_for(app, setting.slug)
    sign_in(manager, manager_email)
    assert save_rules(manager, "Keep photos to yourselves.", "3").status_code == 303
    clock.advance(timedelta(days=60))
    assert sign_in(staff, staff_email).headers["Location"] == "/"
    clock.advance(timedelta(days=40))
    assert sign_in(staff, staff_email).headers["Location"] == ASKED
    sign_in(manager, manager_email)
    assert save_rules(manager, "Keep photos to yourselves.", "0").status_code == 422
