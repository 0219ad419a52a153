"""Sending photos from a phone takes a while: the page says what it is sending."""

from __future__ import annotations

import pytest

from tests.fixtures.browser import PHONE
from tests.helpers.journal import photo_bytes, sign_in_in_browser

pytestmark = pytest.mark.e2e

# Holds the first sending back, as a slow phone network would, so the page can be read
# while its photos are "on their way"; the second is sent for real.
HOLD_FIRST_SEND = """() => {
  const form = document.querySelector('form[enctype="multipart/form-data"]');
  form.addEventListener('submit', (event) => event.preventDefault(), {once: true});
}"""


def test_the_page_says_photos_are_being_sent(app, family, live_server, new_page):
    page = new_page(PHONE)
    sign_in_in_browser(page, live_server, family, "staff")
    page.goto(live_server.url(family.slug, "/journal/observations/new"))
    page.get_by_role("group", name="Children").get_by_label("Ada Okafor").check()
    page.get_by_label("What happened").fill("Ada poured water from the jug to the cups.")
    page.get_by_label("Add photos (optional)").set_input_files(
        [
            {"name": f"cups{n}.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes()}
            for n in range(2)
        ]
    )
    page.evaluate(HOLD_FIRST_SEND)
    page.get_by_role("button", name="Save draft").click()
    status = page.get_by_role("status").filter(has_text="Sending 2 photos")
    status.wait_for()
    assert "please keep this page open until it is saved" in status.inner_text()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_text("The observation is saved as a draft.").wait_for()
    assert page.locator("main .photo-list img").count() == 2


def test_a_thumbnail_opens_the_full_photo_on_a_page_with_its_caption_and_a_way_back(
    app, family, live_server, new_page
):
    """Chrome showed the bare image unstyled (its viewer's inline styles are refused by our
    CSP, an error in the console) and with no alt text or way back: now a page of the site."""
    from tests.fixtures.browser import check_accessibility
    from tests.helpers.journal import observe

    observation_id = observe(
        app,
        family,
        [family.child_a_id],
        "Ada painted a sunflower.",
        photos=[(photo_bytes(), "Ada's sunflower", None)],
    )
    page = new_page(PHONE)
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    sign_in_in_browser(page, live_server, family, "parent_a")
    observation = f"/journal/children/{family.child_a_id}/observations/{observation_id}"
    page.goto(live_server.url(family.slug, observation))

    page.get_by_role("link", name="Ada's sunflower").click()
    photo = page.get_by_role("img", name="Ada's sunflower")
    photo.wait_for()
    assert page.evaluate("() => document.querySelector('main img').naturalWidth") > 0
    check_accessibility(page, "the photo page")
    page.get_by_role("link", name="Back to the observation").click()
    page.wait_for_url(live_server.url(family.slug, observation))
    assert errors == []
