"""Every page each role can open, in Chromium at phone and desktop widths: no serious or
critical axe-core problems, and never a server error."""

from __future__ import annotations

import pytest

from tests.fixtures.browser import check_accessibility, screenshot
from tests.helpers.journal import observe, photo_bytes, sign_in_in_browser

pytestmark = pytest.mark.e2e


def _pages(seeded, observation_id: int) -> dict[str, list[str]]:
    a, obs = seeded.child_a_id, observation_id
    return {
        "anonymous": ["/", "/login", "/password/forgot", "/no-such-page"],
        "manager": [
            "/",
            "/people/",
            "/people/children",
            "/people/children/archive",
            f"/people/children/{a}",
            "/people/children/new",
            f"/people/children/{a}/edit",
            f"/people/children/{a}/archive",
            f"/people/{seeded.parent_a_id}/deactivate",
            "/people/parents",
            f"/people/parents/{seeded.parent_a_id}",
            "/people/staff",
            "/people/staff/new",
            f"/people/staff/{seeded.staff_id}",
            "/invitations",
            "/account",
            "/settings/branding/",
            "/journal/",
            "/journal/review",
            "/journal/observations/new",
            f"/journal/observations/{obs}",
            f"/journal/observations/{obs}/edit",
            f"/journal/observations/{obs}/delete",
            f"/journal/children/{a}",
            f"/journal/children/{a}/observations/{obs}",
            f"/journal/children/{a}/access-log",
            "/journal/policies",
            "/responsible-use",
            "/usage-policy",
            "/account/devices",
            "/account/email-check",
            "/retention/",
            "/retention/archive",
            "/retention/audit",
            "/retention/subject-access",
            f"/retention/children/{a}/leaving-pack",
        ],
        "staff": ["/", "/journal/", f"/journal/children/{a}", "/people/children", "/people/"],
        "parent_a": [
            "/",
            "/journal/",
            f"/journal/children/{a}",
            f"/journal/children/{a}/observations/{obs}",
            f"/journal/children/{a}/home-observations/new",
            "/journal/emails",
            f"/retention/children/{a}/leaving-pack",
            "/people/children",
            "/account",
            f"/journal/children/{seeded.child_b_id}",
            "/account/devices",
            "/usage-policy",
        ],
    }


@pytest.mark.parametrize("who", ["anonymous", "manager", "staff", "parent_a"])
def test_every_page_of_a_role_is_accessible(app, family, live_server, new_page, who):
    observation_id = observe(
        app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and Barty planted beans.",
        photos=[(photo_bytes(), "Planting beans", None)],
    )
    page = new_page()
    if who != "anonymous":
        sign_in_in_browser(page, live_server, family, who)
    for path in _pages(family, observation_id)[who]:
        response = page.goto(live_server.url(family.slug, path))
        assert response is not None and response.status < 500, (who, path, response.status)
        check_accessibility(page, f"{who} {path} ({response.status})")
    if who == "manager":
        page.goto(live_server.url(family.slug, "/journal/review"))
        screenshot(page, "review-queue")
