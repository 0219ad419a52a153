"""The setting's usage policy: one gate holds every page of every role until the version in
force is accepted, at the first sign-in and again after each new version."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import clock
from app.auth.pending import ALWAYS_OPEN
from app.extensions import db
from app.responsible_use.models import PolicyAcceptance, UsagePolicy
from tenants.binding import tenant_context
from tests.helpers.clients import (
    accept_usage_policy,
    client_for,
    csrf_token,
    make_user,
    sign_in,
    user_id_of,
)
from tests.routes import app_routes

POLICY_PAGE = "responsible_use.usage_policy"


def _requests_of_every_route(app: Flask) -> list[tuple[str, str, str]]:
    """(rule, method, path) for every route but those the gate leaves open."""
    left_open = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint in ALWAYS_OPEN or rule.endpoint == POLICY_PAGE
    }
    return [
        (route.rule, method, route.path_with({}))
        for route in app_routes(app)
        if route.rule not in left_open
        for method in route.methods
    ]


def _ask(client, method: str, path: str, token: str):
    if method == "GET":
        return client.get(path)
    return client.open(path, method=method, data={"csrf_token": token})


def _sent_to_the_policy(response) -> bool:
    return response.status_code in (302, 303) and response.headers["Location"].startswith(
        "/usage-policy"
    )


def _held_and_not(app: Flask, client, methods=("GET", "POST", "PUT", "DELETE")):
    """Every route asked once: (those sent to the policy, those answered)."""
    token = csrf_token(client, "/usage-policy")
    held, answered = [], []
    for rule, method, path in _requests_of_every_route(app):
        if method in methods:
            response = _ask(client, method, path, token)
            label = f"{method} {path} ({rule}): {response.status_code}"
            (held if _sent_to_the_policy(response) else answered).append(label)
    return held, answered


def _publish(client, text: str):
    return client.post(
        "/responsible-use/policy",
        data={"text": text, "csrf_token": csrf_token(client, "/responsible-use")},
    )


@pytest.mark.parametrize("role", ["manager", "staff", "parent"])
def test_every_route_is_held_until_the_policy_is_accepted_and_again_after_a_new_version(
    app, make_setting, role
):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role=role, accepted_policy=False)
        author_email = make_user(setting.slug, role="manager")
    person, author = client_for(app, setting.slug), client_for(app, setting.slug)
    signed_in = sign_in(person, email)
    assert signed_in.headers["Location"].startswith("/usage-policy"), "sign-in leads to it"
    assert sign_in(author, author_email).status_code == 303

    held, answered = _held_and_not(app, person)
    assert len(held) > 50 and answered == []
    status = person.get("/session/status")
    assert status.status_code == 200 and status.json["signed_in"], "the idle warning still asks"

    assert accept_usage_policy(person).status_code == 303
    held, answered = _held_and_not(app, person, methods=("GET",))
    assert held == [] and len(answered) > 20
    assert person.get("/").status_code == 200
    assert person.get("/account").status_code == 200

    assert _publish(author, "Version two: be kind online.").status_code == 303
    assert author.get("/account").status_code == 200, "the author has accepted their own text"
    assert _sent_to_the_policy(person.get("/"))
    held, answered = _held_and_not(app, person)
    assert len(held) > 50 and answered == []
    page = person.get("/usage-policy").text
    assert "Version two: be kind online." in page and "Version 2" in page

    assert accept_usage_policy(person).status_code == 303
    assert person.get("/account").status_code == 200


def _acceptances(app, slug: str) -> list[tuple[int, int]]:
    from app.extensions import db
    from tenants.binding import tenant_context

    with app.app_context(), tenant_context(slug):
        rows = db.session.execute(
            select(PolicyAcceptance.user_id, PolicyAcceptance.version, PolicyAcceptance.accepted_at)
        ).all()
    assert all(row.accepted_at is not None for row in rows)
    return sorted((row.user_id, row.version) for row in rows)


def test_acceptance_is_recorded_and_the_manager_sees_who_has_not_accepted(app, make_setting):
    setting = make_setting()
    with app.app_context():
        manager_email = make_user(setting.slug, role="manager", full_name="Mina Manager")
        parent_email = make_user(
            setting.slug, role="parent", full_name="Pia Pending", accepted_policy=False
        )
    manager = client_for(app, setting.slug)
    sign_in(manager, manager_email)
    page = manager.get("/responsible-use").text
    pending_row = page[page.index("Pia Pending") :].split("</tr>")[0]
    assert "Not yet" in pending_row
    manager_row = page[page.index("Mina Manager") :].split("</tr>")[0]
    assert "Not yet" not in manager_row

    parent = client_for(app, setting.slug)
    sign_in(parent, parent_email)
    accept_usage_policy(parent)
    parent_id = user_id_of(app, setting.slug, parent_email)
    assert (parent_id, 1) in _acceptances(app, setting.slug)
    page = manager.get("/responsible-use").text
    assert "Not yet" not in page[page.index("Pia Pending") :].split("</tr>")[0]


def test_a_version_published_while_the_page_was_open_is_not_accepted_unseen(app, make_setting):
    setting = make_setting()
    with app.app_context():
        manager_email = make_user(setting.slug, role="manager")
        staff_email = make_user(setting.slug, role="staff", accepted_policy=False)
    manager, staff = client_for(app, setting.slug), client_for(app, setting.slug)
    sign_in(manager, manager_email)
    sign_in(staff, staff_email)
    token = csrf_token(staff, "/usage-policy")  # the page shows version 1
    _publish(manager, "Version two.")
    stale = staff.post("/usage-policy", data={"version": "1", "csrf_token": token})
    assert stale.status_code == 303 and stale.headers["Location"].startswith("/usage-policy")
    assert _sent_to_the_policy(staff.get("/"))
    staff_id = user_id_of(app, setting.slug, staff_email)
    assert [row for row in _acceptances(app, setting.slug) if row[0] == staff_id] == []


@pytest.mark.parametrize("version", ["¹", "1.0", "", "9" * 20])
def test_a_version_that_is_not_a_number_is_refused_and_nothing_accepted(app, make_setting, version):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff", accepted_policy=False)
    staff = client_for(app, setting.slug)
    sign_in(staff, email)
    token = csrf_token(staff, "/usage-policy")
    response = staff.post("/usage-policy", data={"version": version, "csrf_token": token})
    assert response.status_code == 422
    staff_id = user_id_of(app, setting.slug, email)
    assert [row for row in _acceptances(app, setting.slug) if row[0] == staff_id] == []


def test_an_unchanged_policy_is_not_a_new_version_and_only_managers_publish(app, make_setting):
    setting = make_setting()
    with app.app_context():
        manager_email = make_user(setting.slug, role="manager")
        staff_email = make_user(setting.slug, role="staff")
    manager, staff = client_for(app, setting.slug), client_for(app, setting.slug)
    sign_in(manager, manager_email)
    sign_in(staff, staff_email)
    current = manager.get("/usage-policy").text
    assert "Version 1" in current and "password manager" in current, "our default text"
    form = manager.get("/responsible-use").text
    assert "Version 1 is in force" in form
    unchanged = _publish(manager, app_default_policy())
    assert unchanged.status_code == 422 and "unchanged" in unchanged.text
    assert _publish(staff, "My own rules.").status_code == 403
    assert staff.get("/account").status_code == 200, "nothing new to accept"


def test_publish_tapped_twice_is_one_new_version(app, make_setting):
    """A double tap shows the second answer: it says the version is published (not that the
    policy is unchanged, which reads as the publishing having failed), and makes no
    second version for everyone to accept."""
    setting = make_setting()
    with app.app_context():
        manager_email = make_user(setting.slug, role="manager")
    manager = client_for(app, setting.slug)
    sign_in(manager, manager_email)

    first = _publish(manager, "Be kind online.")
    second = _publish(manager, "Be kind online.")

    assert first.status_code == second.status_code == 303
    assert "Version 2 is published" in manager.get("/responsible-use").text
    with app.app_context(), tenant_context(setting.slug):
        assert db.session.scalar(select(func.max(UsagePolicy.version))) == 2
    clock.move_to(clock.now() + clock.SENT_TWICE_WITHIN + timedelta(seconds=1))
    later = _publish(manager, "Be kind online.")
    assert later.status_code == 422 and "unchanged" in later.text


def app_default_policy() -> str:
    from app.responsible_use.texts import DEFAULT_USAGE_POLICY

    return DEFAULT_USAGE_POLICY
