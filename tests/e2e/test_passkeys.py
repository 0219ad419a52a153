"""Passkeys in a real browser, through Chromium's virtual authenticator (WebAuthn over CDP):
adding one, signing in with it, and its uselessness at another setting."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from tenants.binding import tenant_context
from tests.fixtures.browser import check_accessibility
from tests.helpers.clients import GOOD_PASSWORD, GOOD_PIN, make_user

pytestmark = pytest.mark.e2e


def _virtual_authenticator(page) -> tuple[object, str]:
    """A platform authenticator (like a phone's) that says yes with user verification."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def _sign_in(page, server, slug: str, email: str, then: str) -> None:
    page.goto(server.url(slug, "/login"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_label("PIN").fill(GOOD_PIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url(slug, then))


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")


def _add_passkey(page, server, slug: str, name: str) -> None:
    page.goto(server.url(slug, "/account/second-factor"))
    page.get_by_label("Name of this passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    page.get_by_role("link", name="I have saved my recovery codes").click()
    page.wait_for_url(server.url(slug, "/account/second-factor"))


def _failures(app, slug: str, email: str) -> int:
    with app.app_context(), tenant_context(slug):
        return db.session.scalar(select(User.failed_signins).where(User.email == email))


def test_a_passkey_is_added_then_signs_in(app, make_setting, live_server, new_page, mail_outbox):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff")
    page = new_page()
    cdp, authenticator = _virtual_authenticator(page)
    _sign_in(page, live_server, setting.slug, email, then="/")
    _add_passkey(page, live_server, setting.slug, "My phone")
    assert "Passkey “My phone”" in page.content()
    check_accessibility(page, "second factor page")
    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert [c["rpId"] for c in held] == [f"{setting.slug}.localhost"]

    _sign_out(page)
    _sign_in(page, live_server, setting.slug, email, then="/login/second-factor")
    check_accessibility(page, "second factor step")
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(live_server.url(setting.slug, "/"))
    assert "Hello Sam" in page.content()
    assert any("with a passkey" in str(m) for m in mail_outbox.to(email))

    # Renaming it, then removing it: password and PIN alone sign in again.
    page.goto(live_server.url(setting.slug, "/account/second-factor"))
    page.get_by_label("New name for the passkey My phone").fill("Old phone")
    page.get_by_role("button", name="Rename the passkey My phone").click()
    page.get_by_text("Your passkey is now called “Old phone”").wait_for()
    page.get_by_label("Your current password, to remove the passkey Old phone").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Remove the passkey Old phone").click()
    page.wait_for_url(live_server.url(setting.slug, "/account/second-factor"))
    assert "You have no second factor yet" in page.content()
    _sign_out(page)
    _sign_in(page, live_server, setting.slug, email, then="/")


def test_a_passkey_made_at_one_setting_fails_at_another(
    app, make_setting, live_server, new_page, mail_outbox
):
    setting_a, setting_b = make_setting(), make_setting()
    email = "both-settings@example.org"
    with app.app_context():
        make_user(setting_a.slug, role="staff", email=email)
        make_user(setting_b.slug, role="staff", email=email)
    # At setting B the person has a passkey on another device.
    other_device = new_page()
    _virtual_authenticator(other_device)
    _sign_in(other_device, live_server, setting_b.slug, email, then="/")
    _add_passkey(other_device, live_server, setting_b.slug, "Work tablet")

    # This device's passkey is for setting A; signing in there shows what it sends.
    page = new_page()
    _virtual_authenticator(page)
    _sign_in(page, live_server, setting_a.slug, email, then="/")
    _add_passkey(page, live_server, setting_a.slug, "My phone")
    _sign_out(page)
    _sign_in(page, live_server, setting_a.slug, email, then="/login/second-factor")
    with page.expect_request("**/login/second-factor/passkey") as sent:
        page.get_by_role("button", name="Use a passkey").click()
    answer_for_a = parse_qs(sent.value.post_data)["credential"][0]
    page.wait_for_url(live_server.url(setting_a.slug, "/"))
    _sign_out(page)

    # At setting B, the browser has no passkey of B's to offer.
    _sign_in(page, live_server, setting_b.slug, email, then="/login/second-factor")
    page.get_by_role("button", name="Use a passkey").click()
    page.get_by_text("No passkey was used").wait_for()
    assert page.url == live_server.url(setting_b.slug, "/login/second-factor")

    # And A's signed answer, sent to B by hand, is refused and counted as a failure.
    with page.expect_navigation():
        page.evaluate(
            """(answer) => {
                const form = document.getElementById("passkey-sign-in");
                form.querySelector("input[name=credential]").value = answer;
                form.submit();
            }""",
            answer_for_a,
        )
    assert page.url == live_server.url(setting_b.slug, "/login/second-factor")
    assert "not accepted" in page.content()
    assert _failures(app, setting_b.slug, email) == 1
    page.goto(live_server.url(setting_b.slug, "/"))
    assert page.url == live_server.url(setting_b.slug, "/login/second-factor")


def test_the_policy_holds_a_manager_at_enrolment_until_a_passkey_is_added(
    app, make_setting, live_server, new_page, mail_outbox
):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="manager", full_name="Mina Manager")
    page = new_page()
    _virtual_authenticator(page)
    _sign_in(page, live_server, setting.slug, email, then="/")
    page.goto(live_server.url(setting.slug, "/people/"))
    page.get_by_label("Who must use a second factor").select_option("managers")
    page.get_by_label("Days people have to set one up").fill("0")
    page.get_by_role("button", name="Save the second-factor policy").click()
    page.get_by_text("The second-factor policy is saved").wait_for()
    _sign_out(page)

    _sign_in(page, live_server, setting.slug, email, then="/login/second-factor/enrol")
    check_accessibility(page, "second factor enrolment")
    page.goto(live_server.url(setting.slug, "/people/"))
    assert page.url == live_server.url(setting.slug, "/login/second-factor/enrol")
    page.get_by_label("Name of this passkey").fill("Office laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    check_accessibility(page, "recovery codes")
    assert len(page.locator(".recovery-codes code").all_inner_texts()) == 10
    page.get_by_role("link", name="I have saved my recovery codes").click()
    page.wait_for_url(live_server.url(setting.slug, "/"))
    assert "Hello Mina" in page.content()
