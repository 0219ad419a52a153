"""Invitations and activation: one-time, expiring, setting-bound links; secrets never emailed."""

from __future__ import annotations

import re
from datetime import timedelta

from app import clock
from tests.fixtures.smtp import html_of, text_of
from tests.helpers.clients import (
    GOOD_PASSWORD,
    GOOD_PIN,
    accept_usage_policy,
    client_for,
    csrf_token,
    sign_in,
)

LINK = re.compile(r"https?://([a-z0-9-]+)\.localhost(?::\d+)?(/activate/[A-Za-z0-9_-]+)")


def _invite(client, name: str, email: str, role: str = "parent"):
    return client.post(
        "/invitations",
        data={
            "full_name": name,
            "email": email,
            "role": role,
            "csrf_token": csrf_token(client, "/invitations"),
        },
    )


def _activation_path(message) -> str:
    match = LINK.search(text_of(message))
    assert match, text_of(message)
    assert match.group(2) in html_of(message)
    return match.group(2)


def _activate(client, path: str, password: str = GOOD_PASSWORD, pin: str = GOOD_PIN):
    token = csrf_token(client)
    return client.post(
        path,
        data={
            "password": password,
            "password_again": password,
            "pin": pin,
            "pin_again": pin,
            "csrf_token": token,
        },
    )


def test_invited_parent_activates_from_the_emailed_link_and_signs_in(
    app, setting_with_manager, mail_outbox
):
    setting, manager, _ = setting_with_manager
    response = _invite(manager, "Priya O'Neill-Shah", "Priya.Shah@Example.org")
    assert response.status_code == 303
    [message] = mail_outbox.to("priya.shah@example.org")
    assert setting.name in message["Subject"]
    path = _activation_path(message)

    parent = client_for(app, setting.slug)
    assert _activate(parent, path).status_code == 303
    assert sign_in(parent, "priya.shah@example.org").status_code == 303
    first_page = parent.get("/")
    assert first_page.headers["Location"] == "/usage-policy?next=/", "the policy comes first"
    accepted = accept_usage_policy(parent, first_page.headers["Location"])
    assert accepted.headers["Location"] == "/"
    assert "Hello Priya" in parent.get("/").text
    for body in (text_of(message), html_of(message)):
        assert GOOD_PASSWORD not in body and GOOD_PIN not in body


def test_activation_link_works_once(app, setting_with_manager, mail_outbox):
    setting, manager, _ = setting_with_manager
    _invite(manager, "Tom Green", "tom@example.org")
    path = _activation_path(mail_outbox.to("tom@example.org")[0])
    visitor = client_for(app, setting.slug)
    assert _activate(visitor, path).status_code == 303
    again = visitor.get(path)
    assert again.status_code == 410
    assert "already been used" in again.text
    assert _activate(visitor, path, password="another long passphrase here").status_code == 410


def test_activation_link_expires(app, setting_with_manager, mail_outbox):
    setting, manager, _ = setting_with_manager
    _invite(manager, "Ada Brown", "ada@example.org")
    path = _activation_path(mail_outbox.to("ada@example.org")[0])
    clock.advance(timedelta(seconds=app.config["LJ"].ACTIVATION_LINK_TTL + 1))
    expired = client_for(app, setting.slug).get(path)
    assert expired.status_code == 410
    assert "expired" in expired.text
    assert "new invitation" in expired.text


def test_activation_link_of_one_setting_is_nothing_on_another(
    app, setting_with_manager, make_setting, mail_outbox
):
    _, manager, _ = setting_with_manager
    other = make_setting()
    _invite(manager, "Lee Wong", "lee@example.org")
    path = _activation_path(mail_outbox.to("lee@example.org")[0])
    elsewhere = client_for(app, other.slug)
    assert elsewhere.get(path).status_code == 404
    assert _activate(elsewhere, path).status_code == 404


def test_resending_voids_the_previous_link(app, setting_with_manager, mail_outbox):
    setting, manager, _ = setting_with_manager
    _invite(manager, "Kim Lee", "kim@example.org")
    first = _activation_path(mail_outbox.to("kim@example.org")[0])
    page = manager.get("/invitations").text
    user_id = re.search(r"/invitations/(\d+)/resend", page).group(1)
    clock.advance(timedelta(minutes=3))  # not a second tap of the invitation
    resent = manager.post(
        f"/invitations/{user_id}/resend", data={"csrf_token": csrf_token(manager, "/invitations")}
    )
    assert resent.status_code == 303
    messages = mail_outbox.to("kim@example.org")
    assert len(messages) == 2
    second = _activation_path(messages[1])
    visitor = client_for(app, setting.slug)
    assert visitor.get(first).status_code == 410
    assert _activate(visitor, second).status_code == 303


def test_manager_corrects_a_misspelt_email_and_the_old_link_dies(
    app, setting_with_manager, mail_outbox
):
    setting, manager, _ = setting_with_manager
    _invite(manager, "Jo Smith", "jo@exmaple.org")
    wrong = _activation_path(mail_outbox.to("jo@exmaple.org")[0])
    user_id = re.search(r"/invitations/(\d+)/email", manager.get("/invitations").text).group(1)
    fixed = manager.post(
        f"/invitations/{user_id}/email",
        data={"email": "jo@example.org", "csrf_token": csrf_token(manager, "/invitations")},
    )
    assert fixed.status_code == 303
    right = _activation_path(mail_outbox.to("jo@example.org")[0])
    visitor = client_for(app, setting.slug)
    assert visitor.get(wrong).status_code == 410
    assert _activate(visitor, right).status_code == 303


def test_a_correction_that_is_not_an_email_names_the_field_and_changes_nothing(
    app, setting_with_manager, mail_outbox
):
    _, manager, _ = setting_with_manager
    _invite(manager, "Jo Smith", "jo@exmaple.org")
    user_id = re.search(r"/invitations/(\d+)/email", manager.get("/invitations").text).group(1)
    for typed, message in [("", "Email is required"), ("jo at example", "not valid")]:
        refused = manager.post(
            f"/invitations/{user_id}/email",
            data={"email": typed, "csrf_token": csrf_token(manager, "/invitations")},
        )
        assert refused.status_code == 422
        assert message in refused.text
    assert len(mail_outbox.to("jo@exmaple.org")) == 1
    assert "jo@exmaple.org" in manager.get("/invitations").text


def test_an_invitation_whose_account_was_deactivated_is_not_said_to_be_activated(
    app, setting_with_manager, mail_outbox
):
    _, manager, _ = setting_with_manager
    _invite(manager, "Kim Lee", "kim@example.org")
    user_id = re.search(r"/invitations/(\d+)/resend", manager.get("/invitations").text).group(1)
    token = csrf_token(manager, "/invitations")
    deactivated = manager.post(f"/people/{user_id}/deactivate", data={"csrf_token": token})
    assert deactivated.status_code == 303

    for action, data, status in [
        ("resend", {}, 409),
        ("email", {"email": "kim@example.net"}, 422),
    ]:
        refused = manager.post(
            f"/invitations/{user_id}/{action}", data={**data, "csrf_token": token}
        )
        assert refused.status_code == status
        assert "already activated" not in refused.text
        assert "deactivated" in refused.text and "Reactivate" in refused.text
    assert len(mail_outbox.to("kim@example.org")) == 1
    assert not mail_outbox.to("kim@example.net", timeout=0.5)


def test_weak_secrets_are_refused_on_the_activation_page(app, setting_with_manager, mail_outbox):
    setting, manager, _ = setting_with_manager
    _invite(manager, "Max Power", "max@example.org")
    path = _activation_path(mail_outbox.to("max@example.org")[0])
    visitor = client_for(app, setting.slug)
    for password, pin in [
        ("short", GOOD_PIN),
        ("password1234", GOOD_PIN),
        ("max@example.org is me", GOOD_PIN),
        (GOOD_PASSWORD, "123456"),
        (GOOD_PASSWORD, "12345"),
    ]:
        refused = _activate(visitor, path, password=password, pin=pin)
        assert refused.status_code == 422, (password, pin)
        assert "There is a problem" in refused.text
    assert _activate(visitor, path).status_code == 303


def test_invitation_email_must_be_valid_and_unique(setting_with_manager):
    _, manager, manager_email = setting_with_manager
    assert _invite(manager, "Bad Mail", "not-an-email").status_code == 422
    taken = _invite(manager, "Same Person", manager_email.upper())
    assert taken.status_code == 422
    assert "already uses that email" in taken.text


def test_tenants_create_emails_the_first_manager_an_activation_link(app, mail_outbox):
    result = app.test_cli_runner().invoke(
        args=[
            "tenants",
            "create",
            "first-manager-test",
            "--name",
            "Rainbow Room",
            "--manager-email",
            "boss@rainbow.example",
        ]
    )
    assert result.exit_code == 0, result.output
    [message] = mail_outbox.to("boss@rainbow.example")
    path = _activation_path(message)
    assert LINK.search(text_of(message)).group(1) == "first-manager-test"
    assert "/activate/" not in result.output
    visitor = client_for(app, "first-manager-test")
    assert _activate(visitor, path).status_code == 303
    assert sign_in(visitor, "boss@rainbow.example").status_code == 303
