"""Each role lands on its own dashboard; visitors see a welcome and a way to sign in."""

from __future__ import annotations

import pytest

from tests.helpers.clients import client_for, make_user, sign_in


def test_visitor_sees_welcome_and_sign_in(app, make_setting):
    setting = make_setting(name="Little Owls")
    page = client_for(app, setting.slug).get("/").text
    assert "Welcome to Little Owls" in page and 'href="/login"' in page


@pytest.mark.parametrize(
    ("role", "expected", "absent"),
    [
        ("manager", "Needs attention", "No child is linked"),
        ("staff", "There are no children on the register yet", "Needs attention"),
        ("parent", "No child is linked to your account yet", "Needs attention"),
    ],
)
def test_each_role_gets_its_dashboard(app, make_setting, role, expected, absent):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role=role, full_name="Robin Hart")
    client = client_for(app, setting.slug)
    sign_in(client, email)
    page = client.get("/").text
    assert "Hello Robin" in page and expected in page and absent not in page
    assert ('href="/invitations"' in page) is (role == "manager")
