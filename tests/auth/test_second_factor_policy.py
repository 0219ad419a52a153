"""The setting's second-factor policy: who must have one, a grace period, then enrolment
at sign-in; "needs attention" lists who has not enrolled."""

from __future__ import annotations

from datetime import timedelta

from app import clock
from tests.auth.second_factor_steps import (
    SECRET_KEY_SHOWN,
    audit_events,
    code_now,
    enrol_totp,
    give_code,
    sign_out,
    start_at_a_step_boundary,
)
from tests.helpers.clients import client_for, csrf_token, make_user, sign_in


def _set_policy(client, required_for: str, grace_days: int | str):
    return client.post(
        "/second-factor/policy",
        data={
            "required_for": required_for,
            "grace_days": grace_days,
            "csrf_token": csrf_token(client, "/people/"),
        },
    )


def _people_with_a_manager(app, setting_with_manager, people: dict[str, str]):
    """The setting, its manager's client, email and authenticator secret (the manager
    enrolled), and ``people`` (full name -> role) made, in order."""
    start_at_a_step_boundary()
    setting, manager, manager_email = setting_with_manager
    manager_secret, _ = enrol_totp(manager)
    with app.app_context():
        made = [make_user(setting.slug, role=role, full_name=name) for name, role in people.items()]
    return setting, manager, manager_email, manager_secret, made


def test_staff_are_taken_to_enrolment_at_the_first_sign_in_after_the_grace_period(
    app, setting_with_manager, mail_outbox
):
    setting, manager, manager_email, manager_secret, (staff, parent) = _people_with_a_manager(
        app, setting_with_manager, {"Sam Staff": "staff", "Pat Parent": "parent"}
    )
    assert _set_policy(manager, "staff", 7).status_code == 303

    def needs_attention() -> str:
        """The manager's list, signing in again (with their app) as days have passed."""
        manager = client_for(app, setting.slug)
        sign_in(manager, manager_email)
        give_code(manager, code_now(manager_secret))
        return manager.get("/people/").text

    attention = manager.get("/people/").text
    assert "must set up a second factor" in attention and "Sam Staff" in attention
    assert "Pat Parent" not in attention.split("must set up a second factor")[1]

    # Within the grace period: signed in as before.
    member = client_for(app, setting.slug)
    clock.advance(timedelta(days=6))
    assert sign_in(member, staff).headers["Location"] == "/"
    sign_out(member)

    # After it: held at enrolment, whatever page is asked for.
    clock.advance(timedelta(days=2))
    assert "taken to set one up at their next sign-in" in needs_attention()
    assert sign_in(member, staff).headers["Location"] == "/login/second-factor/enrol"
    for page in ("/", "/account", "/people/children"):
        held = member.get(page)
        assert held.headers["Location"] == "/login/second-factor/enrol"
    assert "Set up a second factor" in member.get("/login/second-factor/enrol").text

    # Enrolling an app signs the person in and shows their recovery codes once.
    token = csrf_token(member, "/login/second-factor/enrol")
    member.post("/account/second-factor/totp", data={"csrf_token": token})
    secret = SECRET_KEY_SHOWN.search(member.get("/account/second-factor/totp").text).group(1)
    done = member.post(
        "/account/second-factor/totp/confirm", data={"code": code_now(secret), "csrf_token": token}
    )
    assert done.status_code == 200 and "recovery codes" in done.text
    assert "Hello Sam" in member.get("/").text
    clock.advance(timedelta(minutes=1))
    assert "Sam Staff" not in needs_attention()

    # Parents are not covered by "staff".
    family = client_for(app, setting.slug)
    assert sign_in(family, parent).headers["Location"] == "/"
    events = [event for event, _ in audit_events(app, setting.slug)]
    assert "second_factor.policy_changed" in events
    assert "second_factor.enrolment_required" in events


def test_someone_who_already_has_a_factor_is_not_listed_or_held(app, setting_with_manager):
    start_at_a_step_boundary()
    _setting, manager, manager_email = setting_with_manager
    _secret, _ = enrol_totp(manager)
    assert _set_policy(manager, "managers", 0).status_code == 303
    assert "must set up a second factor" not in manager.get("/people/").text
    sign_out(manager)
    clock.advance(timedelta(minutes=1))
    assert sign_in(manager, manager_email).headers["Location"] == "/login/second-factor"


def test_a_grace_period_of_zero_takes_people_to_enrolment_at_once(app, setting_with_manager):
    _setting, manager, manager_email = setting_with_manager
    assert _set_policy(manager, "everyone", 0).status_code == 303
    sign_out(manager)
    assert sign_in(manager, manager_email).headers["Location"] == "/login/second-factor/enrol"


def test_a_policy_out_of_range_is_refused_with_a_message(app, setting_with_manager):
    _setting, manager, _ = setting_with_manager
    assert _set_policy(manager, "staff", 91).status_code == 422
    assert _set_policy(manager, "staff", "soon").status_code == 422
    assert _set_policy(manager, "the cat", 7).status_code == 422
    assert "must set up a second factor" not in manager.get("/people/").text


def test_only_a_manager_sets_the_policy(app, member):
    setting, email = member
    staff = client_for(app, setting.slug)
    sign_in(staff, email)
    refused = staff.post(
        "/second-factor/policy",
        data={"required_for": "nobody", "grace_days": 7, "csrf_token": csrf_token(staff, "/")},
    )
    assert refused.status_code == 403


def _set_policy_later(app, slug: str, email: str, secret: str, required_for: str) -> None:
    """The manager, signing in again with their app days later, sets the policy."""
    manager = client_for(app, slug)
    sign_in(manager, email)
    give_code(manager, code_now(secret))
    assert _set_policy(manager, required_for, 7).status_code == 303


def test_widening_the_policy_starts_the_grace_period_only_for_the_roles_it_adds(
    app, setting_with_manager
):
    setting, manager, manager_email, manager_secret, (deputy, staff) = _people_with_a_manager(
        app, setting_with_manager, {"Dee Deputy": "manager", "Sam Staff": "staff"}
    )
    assert _set_policy(manager, "managers", 7).status_code == 303

    # Ten days on, the deputy's grace period is over; then the policy is widened to staff.
    clock.advance(timedelta(days=10))
    _set_policy_later(app, setting.slug, manager_email, manager_secret, "staff")

    # The deputy is still past their deadline; staff have their seven days from today.
    assert sign_in(client_for(app, setting.slug), deputy).headers["Location"] == (
        "/login/second-factor/enrol"
    )
    assert sign_in(client_for(app, setting.slug), staff).headers["Location"] == "/"
    clock.advance(timedelta(days=8))
    assert sign_in(client_for(app, setting.slug), staff).headers["Location"] == (
        "/login/second-factor/enrol"
    )

    # A role the policy stopped covering starts afresh when covered again.
    _set_policy_later(app, setting.slug, manager_email, manager_secret, "managers")
    clock.advance(timedelta(days=10))
    _set_policy_later(app, setting.slug, manager_email, manager_secret, "staff")
    assert sign_in(client_for(app, setting.slug), staff).headers["Location"] == "/"


def test_people_in_the_grace_period_are_told_at_sign_in_by_when_to_enrol(app, setting_with_manager):
    setting, manager, _email, _secret, (staff, parent) = _people_with_a_manager(
        app, setting_with_manager, {"Sam Staff": "staff", "Pat Parent": "parent"}
    )
    assert _set_policy(manager, "staff", 7).status_code == 303
    reminder = "requires a second factor for your role"

    member = client_for(app, setting.slug)
    clock.advance(timedelta(days=3))
    assert sign_in(member, staff).headers["Location"] == "/"
    home = member.get("/").text
    assert reminder in home and "before 9 December 2026" in home
    assert reminder not in member.get("/").text, "said once per sign-in"

    family = client_for(app, setting.slug)
    sign_in(family, parent)
    assert reminder not in family.get("/").text, "parents are not covered by 'staff'"

    enrol_totp(member)
    sign_out(member)
    assert sign_in(member, staff).headers["Location"] == "/login/second-factor"
    assert reminder not in member.get("/login/second-factor").text
