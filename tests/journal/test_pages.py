"""The journal pages as staff, managers and parents use them."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.auth.models import AuditEntry
from app.extensions import db
from app.journal.models import Comment, Observation, ObservationStatus, Photo
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, signed_in, upload
from tests.helpers.people import TODAY, inside

NEW_OBSERVATION = "/journal/observations/new"


def _form(family, **changes) -> dict:
    data = {
        "observed_on": TODAY.isoformat(),
        "child_ids": [str(family.child_a_id)],
        "text": "Ada built a tower of **ten** blocks.",
        "areas": ["pd", "maths"],
        "characteristics": ["thinking"],
        "age_band": "3_and_4",
        "next_steps": "Count the blocks together.",
        "caption": "",
    }
    data.update(changes)
    return data


def _observation_id(response) -> int:
    assert response.status_code == 303, response.text
    return int(re.search(r"/journal/observations/(\d+)$", response.headers["Location"]).group(1))


def test_staff_write_a_draft_with_a_photo_then_publish_it_for_the_family(app, family):
    staff = signed_in(app, family, "staff")
    form = staff.get(NEW_OBSERVATION).text
    # Several at once, from the camera or the gallery ("capture" would allow the camera only).
    assert 'accept="image/*"' in form and " multiple" in form and "capture=" not in form
    assert "Communication and Language" in form and "Creating and thinking critically" in form
    response = post_form(
        staff,
        NEW_OBSERVATION,
        _form(family, photo=upload(photo_bytes()), caption="The tower"),
        content_type="multipart/form-data",
    )
    observation_id = _observation_id(response)
    page = staff.get(f"/journal/observations/{observation_id}").text
    assert "Draft" in page and "<strong>ten</strong>" in page and 'alt="The tower"' in page

    parent = signed_in(app, family, "parent_a")
    journal_page = f"/journal/children/{family.child_a_id}"
    assert "<strong>ten</strong>" not in parent.get(journal_page).text  # drafts are not shown
    response = post_form(staff, f"/journal/observations/{observation_id}/publish")
    assert response.status_code == 303
    page = parent.get(journal_page).text
    assert "<strong>ten</strong>" in page and "The tower" in page
    with inside(app, family.slug):
        stored = db.session.get_one(Observation, observation_id)
        assert stored.status is ObservationStatus.PUBLISHED
        assert stored.areas == ["pd", "maths"] and stored.age_band == "3_and_4"


def test_observation_form_errors_are_tied_to_their_fields_and_nothing_is_saved(app, family):
    staff = signed_in(app, family, "staff")
    response = post_form(
        staff, NEW_OBSERVATION, _form(family, child_ids=[], text="  ", observed_on="2999-01-01")
    )
    assert response.status_code == 422
    assert 'aria-describedby="child_ids-hint child_ids-error-1"' in response.text
    assert 'aria-describedby="text-hint text-error-1"' in response.text
    assert '<a href="#child_ids">Choose at least one child.</a>' in response.text
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Observation)) == 0


def test_a_child_who_has_left_gets_no_new_observations(app, family):
    manager = signed_in(app, family, "manager")
    assert post_form(manager, f"/people/children/{family.child_a_id}/archive").status_code == 303
    response = post_form(manager, NEW_OBSERVATION, _form(family))
    assert response.status_code == 422
    assert "has left" in response.text or "Choose" in response.text
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Observation)) == 0


def test_parent_sees_published_observations_newest_first_and_filters_them(app, family):
    for text, areas, observed_on in [
        ("Oldest painting", ("ead",), TODAY.replace(day=1, month=10)),
        ("Middle counting", ("maths",), TODAY.replace(day=1, month=11)),
        ("Newest singing", ("cl", "ead"), TODAY),
    ]:
        observe(app, family, [family.child_a_id], text, areas=areas, observed_on=observed_on)
    observe(app, family, [family.child_a_id], "Unpublished draft", publish=False)
    parent = signed_in(app, family, "parent_a")
    page = parent.get(f"/journal/children/{family.child_a_id}").text
    assert (
        page.index("Newest singing") < page.index("Middle counting") < page.index("Oldest painting")
    )
    assert "Unpublished draft" not in page
    by_area = parent.get(f"/journal/children/{family.child_a_id}?area=ead").text
    assert "Newest singing" in by_area and "Oldest painting" in by_area
    assert "Middle counting" not in by_area
    by_date = parent.get(
        f"/journal/children/{family.child_a_id}?date_from=2026-10-15&date_to=2026-11-30"
    ).text
    assert "Middle counting" in by_date and "Newest singing" not in by_date
    assert parent.get(f"/journal/children/{family.child_a_id}?area=nonsense").status_code == 400
    assert (
        parent.get(f"/journal/children/{family.child_a_id}?date_from=yesterday").status_code == 400
    )


def test_the_journal_filters_show_what_was_asked_and_what_is_wrong_with_it(app, family):
    parent = signed_in(app, family, "parent_a")
    journal = f"/journal/children/{family.child_a_id}"
    empty = parent.get(journal).text
    assert 'name="q" type="text" value=""' in empty and "There is a problem" not in empty

    asked = parent.get(f"{journal}?q=blue+paint&area=ead&date_from=2026-10-15").text
    assert 'value="blue paint"' in asked and 'value="2026-10-15"' in asked
    assert '<option selected value="ead">' in asked

    wrong = parent.get(f"{journal}?q=blue+paint&date_from=yesterday")
    assert wrong.status_code == 400 and "There is a problem" in wrong.text
    assert 'value="blue paint"' in wrong.text and 'value="yesterday"' in wrong.text
    assert "There is a problem" not in parent.get(journal).text


def test_lists_are_paginated_and_keep_their_filters(app, family):
    for number in range(25):
        observe(app, family, [family.child_a_id], f"Entry number {number:02d}", areas=("lit",))
    parent = signed_in(app, family, "parent_a")
    first = parent.get(f"/journal/children/{family.child_a_id}?area=lit").text
    assert "Page 1 of 2" in first and "Entry number 24" in first and "Entry number 04" not in first
    assert "area=lit" in re.search(r'<a rel="next" href="([^"]+)"', first).group(1)
    second = parent.get(f"/journal/children/{family.child_a_id}?area=lit&page=2").text
    assert "Entry number 04" in second and "Entry number 24" not in second
    staff = signed_in(app, family, "staff")
    listed = staff.get(f"/journal/?child={family.child_a_id}&area=lit&author={family.staff_id}")
    assert listed.status_code == 200 and "Page 1 of 2" in listed.text
    assert staff.get("/journal/?child=999999").status_code == 400


def test_a_page_past_the_last_says_so_and_leads_back_not_that_nothing_matches(app, family):
    """A bookmarked page 3 after observations were withdrawn, or a typed number: the list
    has entries, so "no observation matches" (or "nobody has viewed") would be untrue."""
    observe(app, family, [family.child_a_id], "Ada painted a sun.", areas=("ead",))
    parent = signed_in(app, family, "parent_a")
    journal = f"/journal/children/{family.child_a_id}"
    past = parent.get(f"{journal}?area=ead&page=7")
    assert past.status_code == 200 and "Ada painted a sun." not in past.text
    assert "No observation matches" not in past.text
    assert "Page 7 is past the last page (1)" in past.text
    assert f'href="{journal}?area=ead&amp;page=1"' in past.text
    staff, manager = signed_in(app, family, "staff"), signed_in(app, family, "manager")
    listed = staff.get("/journal/?area=ead&page=3").text
    assert "Page 3 is past the last page (1)" in listed and "No observation matches" not in listed
    views = manager.get(f"/journal/children/{family.child_a_id}/access-log?page=9").text
    assert "Page 9 is past the last page (1)" in views and "Nobody has viewed" not in views


def test_a_first_day_after_the_last_is_said_to_match_nothing(app, family):
    """From 30 November to 1 November reads as "nothing happened" if simply empty."""
    observe(app, family, [family.child_a_id], "Ada painted a sun.")
    parent = signed_in(app, family, "parent_a")
    upside_down = "date_from=2026-11-30&date_to=2026-11-01"
    wrong = parent.get(f"/journal/children/{family.child_a_id}?{upside_down}")
    assert wrong.status_code == 400
    assert "The first day is after the last" in wrong.text
    listed = signed_in(app, family, "staff").get(f"/journal/?{upside_down}")
    assert listed.status_code == 400 and "The first day is after the last" in listed.text


def test_parent_comments_and_staff_hide_the_comment(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada jumped.")
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation_id}"
    response = post_form(parent, f"{path}/comments", {"body": "She does this at home too!"})
    assert response.status_code == 303
    assert "She does this at home too!" in parent.get(path).text
    with inside(app, family.slug):
        comment_id = db.session.scalar(select(Comment.id))
    staff = signed_in(app, family, "staff")
    assert "She does this at home too!" in staff.get(f"/journal/observations/{observation_id}").text
    assert post_form(staff, f"/journal/comments/{comment_id}/hide").status_code == 303
    assert "She does this at home too!" not in parent.get(path).text
    assert "hidden from the family" in staff.get(f"/journal/observations/{observation_id}").text
    assert post_form(parent, f"{path}/comments", {"body": "   "}).status_code == 422


def test_an_observation_sent_twice_by_a_double_tap_is_one_draft(app, family):
    staff = signed_in(app, family, "staff")
    form = {
        "observed_on": TODAY.isoformat(),
        "child_ids": [str(family.child_a_id), str(family.child_b_id)],
        "text": "Ada and Barty built a den. Très bien! 🏕️",
        "areas": ["cl"],
        "caption": "The den",
    }
    sent = [
        post_form(
            staff,
            "/journal/observations/new",
            {**form, "photo": upload(photo_bytes(64, 48))},
            content_type="multipart/form-data",
        )
        for _ in range(2)
    ]
    assert [response.status_code for response in sent] == [303, 303]
    assert sent[0].headers["Location"] == sent[1].headers["Location"]
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Observation)) == 1
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 1
    # Another observation with other words is another draft.
    other = post_form(staff, "/journal/observations/new", {**form, "text": "Ada sang."})
    assert other.status_code == 303 and other.headers["Location"] != sent[0].headers["Location"]


def test_a_home_observation_sent_twice_from_a_phone_waits_once(app, family):
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/home-observations/new"
    form = {"observed_on": TODAY.isoformat(), "text": "Ada baked bread 🍞 with Grand-père."}
    for _ in range(2):
        response = post_form(
            parent,
            path,
            {**form, "photo": upload(photo_bytes(64, 48)), "caption": "Bread"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 303
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Observation)) == 1
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 1


def test_a_comment_sent_twice_by_a_double_tap_is_added_once(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada jumped.")
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation_id}/comments"
    for _ in range(2):  # a double tap, or the phone resending after a slow answer
        response = post_form(parent, path, {"body": "So proud of her! 🎉"})
        assert response.status_code == 303
    page = parent.get(response.headers["Location"]).text
    assert page.count("So proud of her! 🎉") == 1
    # Another comment, or the same words said again later, is a comment of its own.
    assert post_form(parent, path, {"body": "She told us all about it."}).status_code == 303
    clock.advance(timedelta(minutes=10))
    assert post_form(parent, path, {"body": "So proud of her! 🎉"}).status_code == 303
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 3


def test_home_observation_waits_for_staff_before_it_joins_the_journal(app, family):
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/home-observations/new"
    form = parent.get(path).text
    assert 'accept="image/*"' in form and " multiple" in form
    response = post_form(
        parent,
        path,
        {
            "observed_on": TODAY.isoformat(),
            "text": "Ada baked bread.",
            "photo": upload(photo_bytes()),
            "caption": "Bread",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    assert "waiting for review" in parent.get(f"/journal/children/{family.child_a_id}").text
    other_parent = signed_in(app, family, "parent_b")
    assert "Ada baked bread" not in other_parent.get(f"/journal/children/{family.child_b_id}").text
    staff = signed_in(app, family, "staff")
    assert "Ada baked bread" in staff.get("/journal/review").text
    with inside(app, family.slug):
        sent_id = db.session.scalar(select(Observation.id))
    assert post_form(staff, f"/journal/observations/{sent_id}/approve").status_code == 303
    page = parent.get(f"/journal/children/{family.child_a_id}").text
    assert "Ada baked bread" in page and "waiting for review" not in page
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 1


def test_staff_may_decline_a_home_observation(app, family):
    parent = signed_in(app, family, "parent_a")
    post_form(
        parent,
        f"/journal/children/{family.child_a_id}/home-observations/new",
        {"observed_on": TODAY.isoformat(), "text": "Ada and the cat."},
    )
    with inside(app, family.slug):
        sent_id = db.session.scalar(select(Observation.id))
    staff = signed_in(app, family, "staff")
    response = post_form(staff, f"/journal/observations/{sent_id}/send-back", {"note": "Thanks!"})
    assert response.status_code == 303
    assert "not added to the journal" in parent.get(f"/journal/children/{family.child_a_id}").text


def test_changes_to_observations_are_audited(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada ran.")
    with inside(app, family.slug):
        events = set(db.session.scalars(select(AuditEntry.event)))
    assert {"observation.created", "observation.published"} <= events
    assert observation_id


def test_an_observation_dated_before_a_child_was_born_is_refused(app, family):
    """Ada was born on 2 April 2023: a date before it is a slip of the year (2020 for
    2026), for a staff observation, its correction, and a parent's from home."""
    staff = signed_in(app, family, "staff")
    before_birth = "2023-04-01"
    created = post_form(
        staff,
        NEW_OBSERVATION,
        {"observed_on": before_birth, "child_ids": [str(family.child_a_id)], "text": "Ada ran."},
    )
    assert created.status_code == 422
    assert "before Ada was born" in created.text
    observation_id = observe(app, family, [family.child_a_id], "Ada ran.")
    corrected = post_form(
        staff,
        f"/journal/observations/{observation_id}/edit",
        {"observed_on": before_birth, "child_ids": [str(family.child_a_id)], "text": "Ada ran."},
    )
    assert corrected.status_code == 422
    parent = signed_in(app, family, "parent_a")
    from_home = post_form(
        parent,
        f"/journal/children/{family.child_a_id}/home-observations/new",
        {"observed_on": before_birth, "text": "Ada and the cat."},
    )
    assert from_home.status_code == 422
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Observation)) == 1
        assert db.session.get_one(Observation, observation_id).observed_on == TODAY
    on_the_day = post_form(
        staff,
        NEW_OBSERVATION,
        {"observed_on": "2023-04-02", "child_ids": [str(family.child_a_id)], "text": "Born!"},
    )
    assert on_the_day.status_code == 303


def test_the_home_observation_form_of_a_child_who_has_left_says_so(app, family):
    """The form could never be sent (its POST refuses a child who left): the page says so
    at once instead of letting the parent write it first."""
    manager = signed_in(app, family, "manager")
    assert post_form(manager, f"/people/children/{family.child_a_id}/archive").status_code == 303
    parent = signed_in(app, family, "parent_a")
    page = parent.get(f"/journal/children/{family.child_a_id}/home-observations/new")
    assert page.status_code == 409
    assert "Ada has left: no new observations can be added." in page.text
    assert 'name="text"' not in page.text
