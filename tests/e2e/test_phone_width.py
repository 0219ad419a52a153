"""Every page of every role fits a 360 px phone, with realistic long data: long names and
addresses, an observation with every area and characteristic and ten comments, a
correction history, many invitations. Nothing may make the page wider than the screen
(labels and values cut off, or a name off-screen on a confirmation page)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.extensions import db
from app.journal import comments, observations, photos, publishing
from app.journal.media import process_upload
from app.journal.models import AREAS_OF_LEARNING, CHARACTERISTICS_OF_LEARNING, Comment
from app.people import accounts, children, links
from tests.fixtures.browser import PHONE
from tests.helpers.journal import photo_bytes, sign_in_in_browser
from tests.helpers.people import TODAY, add_user, child_details, get_user, inside

pytestmark = pytest.mark.e2e

LONG_TEXT = (
    "Ada and Maximiliana spent the whole morning at the water tray, pouring from the big jug "
    "into the smallest cups and talking about which held more. **Ada** predicted the tall thin "
    "cup would hold the most; when it overflowed she said “it's too full, the water is running "
    "away!” and tried the wide bowl next.\n\n- compared capacities\n- used the words full, "
    "empty, more and less\n- took turns with the jug without being asked"
)


@pytest.fixture
def long_data(app, family) -> dict[str, int]:
    """The family setting filled as a busy nursery's would be."""
    with inside(app, family.slug):
        manager = get_user(family.manager_id)
        staff = get_user(family.staff_id)
        long_named = children.create_child(
            child_details(
                first_name="Maximiliana-Josephine",
                last_name="Wolfeschlegelsteinhausen-Bergerdorff",
                preferred_name="Maxi",
                room="Caterpillars and Butterflies Pre-school Room",
                key_person_id=staff.id,
                photo_consent=True,
            ),
            by=manager,
        )
        long_parent = add_user(
            "Anastasia Constantinopoulou-Fitzgerald-Smythe",
            "anastasia.constantinopoulou-fitzgerald@extremely-long-family-domain.example.org",
            Role.PARENT,
        )
        links.link_parent(long_parent, long_named, "Grandmother and foster carer", by=manager)
        links.link_parent(get_user(family.parent_a_id), long_named, "Mother", by=manager)
        for number in range(15):
            links.add_parent(
                f"Invited Parent-With-A-Long-Name Number {number}",
                f"invited.parent.with.a.long.address.{number}@another-long-domain.example.org",
                by=manager,
            )
        observation = observations.create_observation(
            observations.ObservationDetails(
                observed_on=TODAY,
                child_ids=(family.child_a_id, long_named.id),
                text=LONG_TEXT,
                next_steps="Offer funnels and measuring jugs; model the words half full and "
                "nearly empty; photograph the cups in a row from smallest to largest.",
                areas=tuple(AREAS_OF_LEARNING),
                characteristics=tuple(CHARACTERISTICS_OF_LEARNING),
                age_band="3_and_4",
            ),
            by=staff,
        )
        photos.add_photo(
            observation,
            process_upload(photo_bytes(1200, 900)),
            caption="Ada and Maximiliana-Josephine lining up the cups from smallest to largest",
            in_photo=(family.child_a_id, long_named.id),
            by=staff,
        )
        publishing.publish(observation, by=staff, confirmed=True)
        parent_a = get_user(family.parent_a_id)
        for number in range(10):
            comments.add_comment(
                observation,
                db.session.get_one(type(long_named), family.child_a_id),
                f"Comment {number}: she told us all about it at tea time, "
                "especially the cup that overflowed-and-overflowed-and-overflowed!",
                by=parent_a,
            )
        details = observations.ObservationDetails(
            observed_on=TODAY,
            child_ids=(family.child_a_id, long_named.id),
            text=LONG_TEXT + "\n\nCorrected: it was the afternoon.",
            areas=tuple(AREAS_OF_LEARNING),
            characteristics=tuple(CHARACTERISTICS_OF_LEARNING),
            age_band="3_and_4",
        )
        observations.update_observation(observation, details, by=manager)
        observations.create_home_observation(
            db.session.get_one(type(long_named), family.child_a_id),
            date(2026, 11, 30),
            "At home Ada filled the bath with every cup in the kitchen cupboard.",
            by=parent_a,
        )
        accounts.deactivate_now(get_user(family.parent_b_id), by=manager, reason="left")
        db.session.commit()
        comment_id = db.session.scalars(select(Comment.id).order_by(Comment.id)).first()
        return {
            "observation": observation.id,
            "long_child": long_named.id,
            "long_parent": long_parent.id,
            "comment": comment_id,
        }


def _pages(family, ids) -> dict[str, list[str]]:
    a, obs, long_child = family.child_a_id, ids["observation"], ids["long_child"]
    child_obs = f"/journal/children/{a}/observations/{obs}"
    return {
        "anonymous": ["/", "/login", "/password/forgot", "/no-such-page"],
        "manager": [
            "/",
            "/people/",
            "/people/children",
            "/people/children/archive",
            f"/people/children/{long_child}",
            f"/people/children/{long_child}/archive",
            f"/people/children/{long_child}/parents/{ids['long_parent']}/unlink",
            "/people/children/new",
            f"/people/children/{long_child}/edit",
            "/people/parents",
            f"/people/parents/{ids['long_parent']}",
            f"/people/{ids['long_parent']}/deactivate",
            f"/people/{family.parent_b_id}/reactivate",
            "/people/staff",
            "/people/staff/new",
            f"/people/staff/{family.staff_id}",
            "/invitations",
            "/account",
            "/account/devices",
            "/responsible-use",
            "/settings/branding/",
            "/journal/",
            "/journal/?q=cup",
            "/journal/review",
            "/journal/observations/new",
            f"/journal/observations/{obs}",
            f"/journal/observations/{obs}/edit",
            f"/journal/observations/{obs}/delete",
            f"/journal/children/{a}",
            child_obs,
            f"/journal/children/{long_child}/access-log",
            "/journal/policies",
        ],
        "staff": ["/", "/journal/", f"/journal/children/{long_child}", "/people/children"],
        "parent_a": [
            "/",
            "/journal/",
            f"/journal/children/{a}",
            f"/journal/children/{a}?q=cups",
            child_obs,
            f"{child_obs}/comments/{ids['comment']}/edit",
            f"/journal/children/{a}/home-observations/new",
            f"/journal/children/{long_child}",
            f"/people/children/{long_child}",
            "/account",
            "/account/devices",
            "/journal/emails",
        ],
    }


WIDTHS = "[document.scrollingElement.scrollWidth, window.innerWidth]"


@pytest.mark.parametrize("who", ["anonymous", "manager", "staff", "parent_a"])
def test_every_page_fits_a_360_px_phone(app, family, long_data, live_server, new_page, who):
    page = new_page(PHONE)
    if who != "anonymous":
        sign_in_in_browser(page, live_server, family, who)
    too_wide = []
    for path in _pages(family, long_data)[who]:
        response = page.goto(live_server.url(family.slug, path))
        assert response is not None and response.status < 500, (who, path, response.status)
        content, screen = page.evaluate(WIDTHS)
        if content > screen:
            too_wide.append(f"{path}: {content} px on a {screen} px screen")
    assert not too_wide, f"{who}: " + "; ".join(too_wide)


def test_the_link_confirmation_fits_a_phone_with_both_names_on_screen(
    app,
    family,
    long_data,
    live_server,
    new_page,
):
    page = new_page(PHONE)
    sign_in_in_browser(page, live_server, family, "manager")
    page.goto(live_server.url(family.slug, f"/people/children/{long_data['long_child']}"))
    page.get_by_label("Parent or carer's full name").fill("Bartholomew-Fitzwilliam Okonkwo-Smythe")
    page.get_by_label("Their email").fill(
        "bartholomew.fitzwilliam.okonkwo-smythe@a-very-long-family-domain.example.org"
    )
    page.get_by_label("Relationship to the child").fill("Step-grandfather")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Check before linking").wait_for()
    content, screen = page.evaluate(WIDTHS)
    assert content <= screen, f"{content} px on a {screen} px screen"
    child_name = page.get_by_text("Wolfeschlegelsteinhausen-Bergerdorff").first
    box = child_name.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= screen
