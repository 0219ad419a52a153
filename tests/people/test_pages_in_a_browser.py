"""The people pages in a real browser: usable by label, and no serious axe-core problems."""

from __future__ import annotations

import pytest

from tests.fixtures.browser import DESKTOP, check_accessibility, screenshot
from tests.helpers.people import PASSWORD, PIN, email_of

pytestmark = pytest.mark.e2e


def _sign_in_as_manager(page, live_server, nursery) -> None:
    page.goto(live_server.url(nursery.slug, "/login"))
    page.get_by_label("Email").fill(email_of(nursery, "manager"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url(nursery.slug, "/"))


def test_manager_adds_a_child_and_links_a_parent_by_labels_alone(
    app, nursery, live_server, new_page
):
    page = new_page(DESKTOP)
    _sign_in_as_manager(page, live_server, nursery)

    page.goto(live_server.url(nursery.slug, "/people/"))
    check_accessibility(page, "people overview")

    page.goto(live_server.url(nursery.slug, "/people/children/new"))
    page.get_by_label("First name").fill("Maya")
    page.get_by_role("button", name="Save").click()
    assert "There is a problem" in page.content()
    check_accessibility(page, "child form with errors")
    screenshot(page, "people-child-form-errors")

    page.get_by_label("Last name").fill("Kowalska")
    page.get_by_label("Date of birth").fill("2024-02-29")
    page.get_by_label("Start date").fill("2025-09-01")
    page.get_by_label("Room").fill("Rainbows")
    page.get_by_label("Key person").select_option(label="Sam Staff")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("heading", name="Maya Kowalska").wait_for()
    check_accessibility(page, "child page")

    page.get_by_label("Parent or carer's full name").fill("Kim Kowalski")
    page.get_by_label("Their email").fill("kim@example.org")
    page.get_by_label("Relationship to the child").fill("Dad")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Check before linking").wait_for()
    check_accessibility(page, "link confirmation")
    screenshot(page, "people-link-confirmation")
    page.get_by_role("button", name="Yes, link Kim Kowalski to Maya Kowalska").click()
    page.get_by_text("Kim Kowalski is now linked to Maya Kowalska").wait_for()
