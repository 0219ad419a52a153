"""A thumbnail opens a page around the full photo: the site's frame, the photo with its
caption (masked as the viewer's page masks it) as alt text, and a way back. The photo's
own address stays what an <img> loads."""

from __future__ import annotations

import re

from tests.helpers.journal import observe, photo_bytes, signed_in


def _group_photo(app, family) -> int:
    return observe(
        app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and Barty Quince built a tower.",
        photos=[(photo_bytes(), "Ada and Barty Quince at the tower", None)],
    )


def _link_to_page(page: str) -> tuple[str, str]:
    """The thumbnail's link and the thumbnail's own address."""
    match = re.search(r'<a href="([^"]+)"><img src="([^"]+/thumb)"', page)
    assert match, "no thumbnail link"
    return match.group(1), match.group(2)


def _img(page: str) -> tuple[str, str]:
    match = re.search(r'<img src="([^"]+)" alt="([^"]*)"', page)
    assert match, "no photo on the page"
    return match.group(1), match.group(2)


def test_a_parent_opens_a_page_around_the_full_photo_with_its_masked_caption(app, family):
    observation_id = _group_photo(app, family)
    parent = signed_in(app, family, "parent_a")
    observation = f"/journal/children/{family.child_a_id}/observations/{observation_id}"
    link, thumbnail = _link_to_page(parent.get(observation).text)
    assert not link.endswith("/full"), "the thumbnail opens a page, not the bare image"

    page = parent.get(link)
    assert page.status_code == 200 and page.mimetype == "text/html"
    src, alt = _img(page.text)
    assert src == thumbnail.removesuffix("/thumb") + "/full"
    assert alt == "Ada and a friend at the tower"
    assert "Barty" not in page.text and "Quince" not in page.text
    assert f'href="{observation}"' in page.text, "a way back to the observation"
    photo = parent.get(src)
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"


def test_staff_open_the_same_page_from_the_observation_they_manage(app, family):
    observation_id = _group_photo(app, family)
    staff = signed_in(app, family, "staff")
    observation = f"/journal/observations/{observation_id}"
    link, _ = _link_to_page(staff.get(observation).text)

    page = staff.get(link)
    assert page.status_code == 200
    _, alt = _img(page.text)
    assert alt == "Ada and Barty Quince at the tower"
    assert f'href="{observation}"' in page.text


def test_the_page_of_a_photo_in_child_as_view_is_not_another_familys(app, family):
    """Parent B's child is in the observation too, but not child A's journal."""
    observation_id = _group_photo(app, family)
    link, _ = _link_to_page(
        signed_in(app, family, "parent_a")
        .get(f"/journal/children/{family.child_a_id}/observations/{observation_id}")
        .text
    )
    assert signed_in(app, family, "parent_b").get(link).status_code == 404
