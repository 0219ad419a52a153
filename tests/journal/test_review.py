"""Each setting's unsuitable-content rules: set by a manager, checked at publish.

In ``warn`` mode exactly the matching observations are stopped once, with the matches
highlighted, and published when the author confirms; in ``needs_approval`` mode exactly
the matching observations wait in the manager's queue, out of the families' sight.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.models import AuditEntry
from app.extensions import db
from app.journal.models import Observation, ObservationStatus
from tests.helpers.clients import post_form
from tests.helpers.journal import correct, observe, photo_bytes, signed_in, upload
from tests.helpers.people import TODAY, inside

RULES = {
    "group_names": "hidden",
    "blocked_phrases": "rubbish\nsilly billy",
    "no_surnames": "y",
    "no_other_children_names": "y",
    "photo_limit": "1",
}
# Text of each draft, and the fragment the rules should find in it (None: nothing).
DRAFTS = {
    "clean": ("Ada stacked cups and counted to five.", None),
    "blocked": ("Ada called the tower rubbish and laughed.", "rubbish"),
    "phrase": ("Ada said SILLY   Billy to the puppet.", "SILLY   Billy"),
    "surname": ("Ada Okafor painted a sun.", "Okafor"),
    "other child": ("Ada gave Barty the red crayon.", "Barty"),
    "word inside a word": ("Ada sorted the rubbishy leaves? No: the rubber ducks.", None),
}


def _set_rules(app, family, mode: str) -> None:
    manager = signed_in(app, family, "manager")
    response = post_form(manager, "/journal/policies", {**RULES, "mode": mode})
    assert response.status_code == 303, response.text
    page = manager.get("/journal/policies").text
    assert "silly billy" in page and 'value="needs_approval"' in page


def _drafts(app, family) -> dict[str, int]:
    ids = {
        name: observe(app, family, [family.child_a_id], text, publish=False)
        for name, (text, _) in DRAFTS.items()
    }
    ids["two photos"] = observe(
        app,
        family,
        [family.child_a_id],
        "Ada at the water tray.",
        photos=[(photo_bytes(64, 48), "", None), (photo_bytes(64, 48), "", None)],
        publish=False,
    )
    return ids


def _statuses(app, family) -> dict[int, ObservationStatus]:
    with inside(app, family.slug):
        return dict(db.session.execute(select(Observation.id, Observation.status)).all())


FLAGGED = {"blocked", "phrase", "surname", "other child", "two photos"}


def test_warn_mode_stops_exactly_the_matching_observations_until_the_author_confirms(app, family):
    _set_rules(app, family, "warn")
    ids = _drafts(app, family)
    staff = signed_in(app, family, "staff")
    stopped = set()
    for name, observation_id in ids.items():
        response = post_form(staff, f"/journal/observations/{observation_id}/publish")
        if response.status_code == 200:
            stopped.add(name)
            fragment = DRAFTS.get(name, ("", None))[1]
            if fragment:
                assert f"<mark>{fragment}</mark>" in response.text
            assert "Publish anyway" in response.text
        else:
            assert response.status_code == 303
    assert stopped == FLAGGED
    statuses = _statuses(app, family)
    assert {n for n in ids if statuses[ids[n]] is ObservationStatus.PUBLISHED} == set(ids) - FLAGGED

    for name in FLAGGED:
        response = post_form(
            staff, f"/journal/observations/{ids[name]}/publish", {"confirmed": "yes"}
        )
        assert response.status_code == 303
    assert set(_statuses(app, family).values()) == {ObservationStatus.PUBLISHED}


def test_the_photo_limit_is_explained(app, family):
    _set_rules(app, family, "warn")
    ids = _drafts(app, family)
    staff = signed_in(app, family, "staff")
    response = post_form(staff, f"/journal/observations/{ids['two photos']}/publish")
    assert "This observation has 2 photos; the limit is 1." in response.text


def test_needs_approval_holds_exactly_the_matching_observations_for_a_manager(app, family):
    _set_rules(app, family, "needs_approval")
    ids = _drafts(app, family)
    staff = signed_in(app, family, "staff")
    for observation_id in ids.values():
        assert (
            post_form(staff, f"/journal/observations/{observation_id}/publish").status_code == 303
        )
    statuses = _statuses(app, family)
    held = {n for n in ids if statuses[ids[n]] is ObservationStatus.IN_REVIEW}
    published = {n for n in ids if statuses[ids[n]] is ObservationStatus.PUBLISHED}
    assert held == FLAGGED and published == set(ids) - FLAGGED

    parent = signed_in(app, family, "parent_a")
    journal_page = parent.get(f"/journal/children/{family.child_a_id}").text
    assert "stacked cups" in journal_page and "tower rubbish" not in journal_page

    manager = signed_in(app, family, "manager")
    queue = manager.get("/journal/review").text
    for name in FLAGGED - {"two photos"}:
        assert f"<mark>{DRAFTS[name][1]}</mark>" in queue
    assert "stacked cups" not in queue
    held_page = staff.get(f"/journal/observations/{ids['blocked']}").text
    assert "<mark>rubbish</mark>" in held_page  # the author sees why it waits

    assert post_form(manager, f"/journal/observations/{ids['blocked']}/approve").status_code == 303
    response = post_form(
        manager, f"/journal/observations/{ids['surname']}/send-back", {"note": "First names only"}
    )
    assert response.status_code == 303
    statuses = _statuses(app, family)
    assert statuses[ids["blocked"]] is ObservationStatus.PUBLISHED
    assert statuses[ids["surname"]] is ObservationStatus.DRAFT
    assert "First names only" in staff.get(f"/journal/observations/{ids['surname']}").text
    assert "tower rubbish" in parent.get(f"/journal/children/{family.child_a_id}").text


def test_staff_cannot_approve_their_own_held_observation(app, family):
    _set_rules(app, family, "needs_approval")
    observation_id = observe(app, family, [family.child_a_id], "What rubbish.", publish=False)
    staff = signed_in(app, family, "staff")
    post_form(staff, f"/journal/observations/{observation_id}/publish")
    assert post_form(staff, f"/journal/observations/{observation_id}/approve").status_code == 409
    assert _statuses(app, family)[observation_id] is ObservationStatus.IN_REVIEW


@pytest.mark.parametrize(
    ("field", "value"),
    [("photo_limit", "-1"), ("photo_limit", "many"), ("mode", "sometimes"), ("group_names", "")],
)
def test_bad_policies_are_a_form_error(app, family, field, value):
    manager = signed_in(app, family, "manager")
    response = post_form(manager, "/journal/policies", {**RULES, "mode": "warn", field: value})
    assert response.status_code == 422
    assert 'class="error-message"' in response.text


def test_only_managers_set_the_policies(app, family):
    staff = signed_in(app, family, "staff")
    assert post_form(staff, "/journal/policies", {**RULES, "mode": "warn"}).status_code == 403


def test_a_correction_that_now_breaks_a_rule_waits_for_approval_again(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada stacked cups.")
    _set_rules(app, family, "needs_approval")
    staff = signed_in(app, family, "staff")
    response = correct(
        staff, observation_id, [family.child_a_id], "Ada stacked cups and said rubbish."
    )
    assert response.status_code == 303
    assert _statuses(app, family)[observation_id] is ObservationStatus.IN_REVIEW
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation_id}"
    assert parent.get(path).status_code == 404


@pytest.mark.parametrize("who", ["staff", "manager"])
def test_in_warn_mode_a_correction_that_now_breaks_a_rule_is_shown_before_it_is_saved(
    app, family, who
):
    observation_id = observe(app, family, [family.child_a_id], "Ada stacked cups.")
    _set_rules(app, family, "warn")
    author = signed_in(app, family, who)
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation_id}"

    stopped = correct(author, observation_id, [family.child_a_id], "Ada said rubbish.")

    assert stopped.status_code == 200
    assert "<mark>rubbish</mark>" in stopped.text and "Save the correction anyway" in stopped.text
    assert "Ada said rubbish." in stopped.text  # what was typed is kept in the form
    assert "rubbish" not in parent.get(path).text  # nothing is saved yet

    clean = correct(author, observation_id, [family.child_a_id], "Ada stacked red cups.")
    assert clean.status_code == 303  # a correction the rules do not match saves at once
    confirmed = post_form(
        author,
        f"/journal/observations/{observation_id}/edit",
        {
            "observed_on": "2026-12-01",
            "child_ids": [str(family.child_a_id)],
            "text": "Ada said rubbish.",
            "areas": ["cl"],
            "confirmed": "yes",
        },
    )
    assert confirmed.status_code == 303
    assert _statuses(app, family)[observation_id] is ObservationStatus.PUBLISHED
    assert "Ada said rubbish." in parent.get(path).text


def test_a_held_observation_of_a_child_who_has_since_left_is_not_approved(app, family):
    """Publishing refuses a child who has left; approving what waited for review must too,
    or it joins a journal that is closed (and perhaps already packed for the family)."""
    _set_rules(app, family, "needs_approval")
    held = observe(app, family, [family.child_a_id], DRAFTS["blocked"][0], publish=False)
    staff = signed_in(app, family, "staff")
    assert post_form(staff, f"/journal/observations/{held}/publish").status_code == 303
    manager = signed_in(app, family, "manager")
    left = post_form(manager, f"/people/children/{family.child_a_id}/archive")
    assert left.status_code == 303
    refused = post_form(manager, f"/journal/observations/{held}/approve")
    assert refused.status_code == 409
    assert "left the setting" in refused.text
    assert _statuses(app, family)[held] is ObservationStatus.IN_REVIEW


def test_approve_tapped_twice_says_it_is_published_not_that_it_failed(app, family):
    _set_rules(app, family, "needs_approval")
    observation_id = observe(app, family, [family.child_a_id], "What rubbish.", publish=False)
    staff, manager = signed_in(app, family, "staff"), signed_in(app, family, "manager")
    post_form(staff, f"/journal/observations/{observation_id}/publish")
    approve = f"/journal/observations/{observation_id}/approve"
    first, second = (post_form(manager, approve) for _ in range(2))
    assert (first.status_code, second.status_code) == (303, 303)
    assert "already published" in manager.get(second.headers["Location"]).text


@pytest.mark.parametrize("sent_from", ["home", "held"])
def test_send_back_tapped_twice_says_it_is_sent_back_not_that_it_failed(app, family, sent_from):
    staff, manager = signed_in(app, family, "staff"), signed_in(app, family, "manager")
    if sent_from == "home":
        parent = signed_in(app, family, "parent_a")
        home = f"/journal/children/{family.child_a_id}/home-observations/new"
        post_form(parent, home, {"observed_on": "2026-12-01", "text": "Ada and the cat."})
        reviewer, expected = staff, ObservationStatus.DECLINED
    else:
        _set_rules(app, family, "needs_approval")
        held = observe(app, family, [family.child_a_id], "What rubbish.", publish=False)
        post_form(staff, f"/journal/observations/{held}/publish")
        reviewer, expected = manager, ObservationStatus.DRAFT
    [observation_id] = _statuses(app, family)
    send_back = f"/journal/observations/{observation_id}/send-back"

    first, second = (post_form(reviewer, send_back, {"note": "Thanks!"}) for _ in range(2))

    assert (first.status_code, second.status_code) == (303, 303)
    assert "already sent back" in reviewer.get(second.headers["Location"]).text
    assert _statuses(app, family)[observation_id] is expected
    with inside(app, family.slug):
        sent_back = select(AuditEntry).where(AuditEntry.event == "observation.sent_back")
        assert len(db.session.scalars(sent_back).all()) == 1


def test_in_warn_mode_a_photo_added_to_a_published_observation_is_checked_first(app, family):
    """Its caption is a correction families see at once: shown with the findings before it
    is added, as a correction is, then added when the author says so."""
    observation_id = observe(app, family, [family.child_a_id], "Ada stacked cups.")
    _set_rules(app, family, "warn")
    staff, parent = signed_in(app, family, "staff"), signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation_id}"

    def add_photo(**fields: str):
        return post_form(
            staff,
            f"/journal/observations/{observation_id}/photos",
            {"photo": upload(photo_bytes(64, 48)), "caption": "What rubbish", **fields},
            content_type="multipart/form-data",
        )

    stopped = add_photo()
    assert stopped.status_code == 200
    assert "<mark>rubbish</mark>" in stopped.text and "Add the photos anyway" in stopped.text
    assert "/photos/" not in parent.get(path).text  # nothing is added yet

    assert add_photo(confirmed="yes").status_code == 303
    assert "What rubbish" in parent.get(path).text
    with inside(app, family.slug):
        assert len(db.session.get_one(Observation, observation_id).photos) == 1


def test_in_warn_mode_a_photo_added_by_a_correction_is_checked_with_it(app, family):
    """The edit form adds photos too: their caption is part of the correction checked."""
    observation_id = observe(app, family, [family.child_a_id], "Ada stacked cups.")
    _set_rules(app, family, "warn")
    staff = signed_in(app, family, "staff")
    form = {
        "observed_on": TODAY.isoformat(),
        "child_ids": [str(family.child_a_id)],
        "text": "Ada stacked cups.",
        "areas": ["cl"],
        "caption": "What rubbish",
    }
    edit = f"/journal/observations/{observation_id}/edit"

    def send(**fields: str):
        sent = {**form, "photo": upload(photo_bytes(64, 48)), **fields}
        return post_form(staff, edit, sent, content_type="multipart/form-data")

    stopped = send()
    assert stopped.status_code == 200
    assert "<mark>rubbish</mark>" in stopped.text and "Save the correction anyway" in stopped.text
    with inside(app, family.slug):
        assert db.session.get_one(Observation, observation_id).photos == []
    assert send(confirmed="yes").status_code == 303
    with inside(app, family.slug):
        assert len(db.session.get_one(Observation, observation_id).photos) == 1
