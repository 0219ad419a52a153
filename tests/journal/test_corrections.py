"""Putting mistakes right: correcting, withdrawing and deleting published observations, and
recording who can be seen in each photo.

Corrections are kept as revisions that staff and managers read; families see the current
version marked "edited"; a child taken off an observation no longer has it in their journal.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update

from app.auth.models import AuditEntry
from app.extensions import db
from app.journal import storage
from app.journal.models import Comment, Observation, ObservationStatus, Photo
from tests.helpers.clients import post_form
from tests.helpers.journal import observation_row, observe, photo_bytes, signed_in, upload
from tests.helpers.people import TODAY, inside


def _correction(family, child_ids: list[int], text: str, **changes) -> dict:
    return {
        "observed_on": TODAY.isoformat(),
        "child_ids": [str(child_id) for child_id in child_ids],
        "text": text,
        "areas": ["cl"],
        "caption": "",
        **changes,
    }


def _child_page(family, child_id: int, observation_id: int) -> str:
    return f"/journal/children/{child_id}/observations/{observation_id}"


def _add_photos(client, observation_id: int, photos: list, **fields):
    return post_form(
        client,
        f"/journal/observations/{observation_id}/photos",
        {"photo": photos, "caption": "", **fields},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def _audit(app, family, event: str) -> list[dict]:
    with inside(app, family.slug):
        return list(db.session.scalars(select(AuditEntry.detail).where(AuditEntry.event == event)))


def test_the_author_corrects_a_published_observation_and_the_family_sees_it_edited(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada climed the frame.")
    staff = signed_in(app, family, "staff")
    assert "Correct the observation" in staff.get(f"/journal/observations/{observation_id}").text
    response = post_form(
        staff,
        f"/journal/observations/{observation_id}/edit",
        _correction(family, [family.child_a_id], "Ada climbed the frame.", areas=["cl", "pd"]),
    )
    assert response.status_code == 303, response.text

    parent = signed_in(app, family, "parent_a")
    page = parent.get(_child_page(family, family.child_a_id, observation_id)).text
    assert "Ada climbed the frame." in page and "climed" not in page
    assert "Edited" in page
    journal_page = parent.get(f"/journal/children/{family.child_a_id}").text
    assert "edited" in journal_page
    pack = post_form(parent, f"/retention/children/{family.child_a_id}/leaving-pack")
    exported = parent.get(f"{pack.headers['Location']}/journal.json").get_json()
    assert exported["observations"][0]["edited_at"] is not None

    # Staff read what changed, who changed it and when; the family never sees the old text.
    history = staff.get(f"/journal/observations/{observation_id}").text
    assert "Changes since it was published" in history
    assert "Ada climed the frame." in history and "Sam Staff" in history
    assert "Physical Development" in history
    assert "Changes since it was published" not in page


def _opened_form_fields(page: str) -> dict:
    """The hidden fields of a page's form (but its CSRF token, which post_form sends)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name, value = re.search(r'name="(\w+)"', tag), re.search(r'value="([^"]*)"', tag)
        if 'type="hidden"' in tag and name and name.group(1) != "csrf_token":
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


def _opened_edit_form(client, observation_id: int) -> dict:
    """The edit form as the page gives it: every field with its value, hidden ones too."""
    return _opened_form_fields(client.get(f"/journal/observations/{observation_id}/edit").text)


def test_a_correction_from_a_form_opened_before_another_is_not_saved_over_it(app, family):
    """The manager opens the edit form on the tablet, the author corrects the observation
    on hers, then the manager saves: the author's correction is not silently lost."""
    observation_id = observe(app, family, [family.child_a_id], "Ada climed the frame.")
    staff, manager = signed_in(app, family, "staff"), signed_in(app, family, "manager")
    managers_form = _opened_edit_form(manager, observation_id)
    authors_form = _opened_edit_form(staff, observation_id)
    path = f"/journal/observations/{observation_id}/edit"
    first = post_form(
        staff, path, {**authors_form, **_correction(family, [family.child_a_id], "Ada climbed.")}
    )
    assert first.status_code == 303
    again = post_form(  # a double tap on the author's tablet is the same correction
        staff, path, {**authors_form, **_correction(family, [family.child_a_id], "Ada climbed.")}
    )
    assert again.status_code == 303

    stale = _correction(family, [family.child_a_id], "Ada climed the big frame.")
    refused = post_form(manager, path, {**managers_form, **stale})
    assert refused.status_code == 409
    assert "changed by someone else after you opened it" in refused.text
    assert "Ada climed the big frame." in refused.text  # what the manager typed is kept
    parent = signed_in(app, family, "parent_a")
    page = parent.get(_child_page(family, family.child_a_id, observation_id)).text
    assert "Ada climbed." in page and "big frame" not in page

    # Told, the manager saves again from the form shown: now it replaces the author's.
    retold = {**_opened_form_fields(refused.text), **stale}
    assert post_form(manager, path, retold).status_code == 303
    page = parent.get(_child_page(family, family.child_a_id, observation_id)).text
    assert "Ada climed the big frame." in page


def test_a_child_taken_off_an_observation_leaves_their_journal_at_once(app, family):
    both = [family.child_a_id, family.child_b_id]
    observation_id = observe(
        app,
        family,
        both,
        "Ada and Barty dug for worms.",
        photos=[(photo_bytes(64, 48), "", both)],
    )
    parent_b = signed_in(app, family, "parent_b")
    b_page = _child_page(family, family.child_b_id, observation_id)
    assert parent_b.get(b_page).status_code == 200

    manager = signed_in(app, family, "manager")
    response = post_form(
        manager,
        f"/journal/observations/{observation_id}/edit",
        _correction(family, [family.child_a_id], "Ada dug for worms."),
    )
    assert response.status_code == 303, response.text

    assert parent_b.get(b_page).status_code == 404
    assert "dug for worms" not in parent_b.get(f"/journal/children/{family.child_b_id}").text
    with inside(app, family.slug):
        photo = db.session.scalars(select(Photo)).one()
        assert photo.child_ids == {family.child_a_id}  # no longer "in" a photo of it either
    parent_a = signed_in(app, family, "parent_a")
    assert (
        "Ada dug for worms."
        in parent_a.get(_child_page(family, family.child_a_id, observation_id)).text
    )


def test_only_the_author_or_a_manager_corrects_a_published_observation(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada read a book.")
    with inside(app, family.slug):
        db.session.execute(
            update(Observation)
            .where(Observation.id == observation_id)
            .values(author_id=family.manager_id)
        )
        db.session.commit()
    staff = signed_in(app, family, "staff")
    response = post_form(
        staff,
        f"/journal/observations/{observation_id}/edit",
        _correction(family, [family.child_a_id], "Changed by someone else."),
    )
    assert response.status_code == 409
    assert "by its author or a manager" in response.text
    with inside(app, family.slug):
        assert db.session.get_one(Observation, observation_id).text == "Ada read a book."


def test_withdrawing_takes_it_from_the_families_and_publishing_again_brings_it_back(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada painted a sun.")
    parent = signed_in(app, family, "parent_a")
    page = _child_page(family, family.child_a_id, observation_id)
    assert parent.get(page).status_code == 200

    staff = signed_in(app, family, "staff")
    response = post_form(staff, f"/journal/observations/{observation_id}/withdraw")
    assert response.status_code == 303
    assert parent.get(page).status_code == 404
    assert "painted a sun" not in parent.get(f"/journal/children/{family.child_a_id}").text
    staff_page = staff.get(f"/journal/observations/{observation_id}").text
    assert "Draft" in staff_page and "Withdrawn (draft)" in staff_page
    assert _audit(app, family, "observation.withdrawn") == [{"observation_id": observation_id}]

    assert post_form(staff, f"/journal/observations/{observation_id}/publish").status_code == 303
    assert parent.get(page).status_code == 200
    withdraw = f"/journal/observations/{observation_id}/withdraw"
    first, second = (post_form(staff, withdraw) for _ in range(2))  # tapped twice
    assert (first.status_code, second.status_code) == (303, 303)
    assert "already withdrawn" in staff.get(second.headers["Location"]).text
    assert len(_audit(app, family, "observation.withdrawn")) == 2  # the first tap's only
    assert parent.get(page).status_code == 404
    other = post_form(signed_in(app, family, "parent_a"), withdraw)  # may not: still refused
    assert other.status_code in (403, 404)


def test_a_manager_deletes_a_published_observation_with_a_reason(app, family):
    observation_id = observe(
        app,
        family,
        [family.child_a_id],
        "Ada with the wrong family's photo.",
        photos=[(photo_bytes(64, 48), "", None)],
    )
    with inside(app, family.slug):
        files = [
            storage.path_of(name)
            for photo in db.session.get_one(Observation, observation_id).photos
            for name in (photo.file_name, photo.thumbnail_name)
        ]
    assert all(path.exists() for path in files)
    delete = f"/journal/observations/{observation_id}/delete"

    staff = signed_in(app, family, "staff")  # the author, but it has been published
    assert staff.get(delete).status_code == 409
    assert post_form(staff, delete, {"reason": "Mine."}).status_code == 409

    manager = signed_in(app, family, "manager")
    confirm = manager.get(delete)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert "Why is it being deleted?" in confirm.text
    refused = post_form(manager, delete, {"reason": "   "})
    assert refused.status_code == 422 and "Reason is required." in refused.text
    assert all(path.exists() for path in files)

    response = post_form(manager, delete, {"reason": "Photo of another child."})
    assert response.status_code == 303
    with inside(app, family.slug):
        assert db.session.get(Observation, observation_id) is None
    assert not any(path.exists() for path in files)
    [entry] = _audit(app, family, "observation.deleted")
    assert entry["reason"] == "Photo of another child." and entry["status"] == "published"
    again = post_form(manager, delete, {"reason": "Photo of another child."})  # a second tap
    assert again.status_code == 303 and again.headers["Location"].endswith("/journal/")
    assert "The observation is deleted." in manager.get("/journal/").text
    assert post_form(staff, delete, {"reason": "Mine."}).status_code == 404
    assert len(_audit(app, family, "observation.deleted")) == 1
    parent = signed_in(app, family, "parent_a")
    assert parent.get(_child_page(family, family.child_a_id, observation_id)).status_code == 404


def test_the_author_deletes_an_unpublished_draft_without_a_reason(app, family):
    draft_id = observe(app, family, [family.child_a_id], "Not needed.", publish=False)
    staff = signed_in(app, family, "staff")
    page = staff.get(f"/journal/observations/{draft_id}/delete").text
    assert "Why is it being deleted?" not in page
    assert post_form(staff, f"/journal/observations/{draft_id}/delete").status_code == 303
    with inside(app, family.slug):
        assert db.session.get(Observation, draft_id) is None


def test_withdrawing_first_does_not_let_the_author_delete_what_families_saw(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada, as families read it.")
    staff = signed_in(app, family, "staff")
    withdraw = f"/journal/observations/{observation_id}/withdraw"
    assert post_form(staff, withdraw).status_code == 303  # a draft again, but it was seen

    delete = f"/journal/observations/{observation_id}/delete"
    assert staff.get(delete).status_code == 409
    refused = post_form(staff, delete, {"reason": "Mine after all."})

    assert refused.status_code == 409
    assert "Only a manager deletes an observation that has been published" in refused.text
    assert observation_row(app, family.slug, observation_id).status is ObservationStatus.DRAFT
    assert _audit(app, family, "observation.deleted") == []
    manager = signed_in(app, family, "manager")
    assert post_form(manager, delete, {"reason": "Wrong child."}).status_code == 303


# ---------------------------------------------------------------- who is in each photo


def test_a_new_photo_has_nobody_ticked_until_the_author_says_who_is_in_it(app, family):
    both = [family.child_a_id, family.child_b_id]
    draft_id = observe(app, family, both, "Ada and Barty at the sand tray.", publish=False)
    staff = signed_in(app, family, "staff")
    page = staff.get(f"/journal/observations/{draft_id}").text
    assert "Who can be seen in these photos?" in page and "checked" not in page
    response = _add_photos(staff, draft_id, [upload(photo_bytes(64, 48))])
    assert "The photo is added." in response.text
    with inside(app, family.slug):
        assert db.session.scalars(select(Photo)).one().child_ids == set()


def test_the_author_sees_which_families_will_see_each_photo_before_publishing(app, family):
    # Ada has no photo consent; Barty has.
    both = [family.child_a_id, family.child_b_id]
    draft_id = observe(
        app,
        family,
        both,
        "Ada and Barty at the sand tray.",
        photos=[(photo_bytes(64, 48), "Barty alone", [family.child_b_id])],
        publish=False,
    )
    with inside(app, family.slug):
        photo_id = db.session.scalars(select(Photo.id)).one()
    staff = signed_in(app, family, "staff")
    page = staff.get(f"/journal/observations/{draft_id}").text
    assert "Seen by the families of Ada Okafor, Bartholomew Quince." in page
    assert "Not shown to" not in page

    # Ada is in it after all: only Ada's own family will see it.
    response = post_form(
        staff,
        f"/journal/observations/{draft_id}/photos/{photo_id}/people",
        {f"photo-{photo_id}-in_photo": [str(family.child_a_id), str(family.child_b_id)]},
    )
    assert response.status_code == 303, response.text
    page = staff.get(f"/journal/observations/{draft_id}").text
    assert "Seen by the family of Ada Okafor." in page
    assert "Not shown to the family of Bartholomew Quince" in page

    assert post_form(staff, f"/journal/observations/{draft_id}/publish").status_code == 303
    parent_b = signed_in(app, family, "parent_b")
    b_page = parent_b.get(_child_page(family, family.child_b_id, draft_id)).text
    assert "sand tray" in b_page and f"/photos/{photo_id}/" not in b_page
    parent_a = signed_in(app, family, "parent_a")
    a_page = parent_a.get(_child_page(family, family.child_a_id, draft_id)).text
    assert f"/photos/{photo_id}/thumb" in a_page


def test_a_child_without_photo_consent_is_not_untagged_while_ticked_in_a_photo(app, family):
    # Ada has no photo consent and is in the photo: taking her off the observation must
    # not hand the photo to Barty's family as if she were not in it.
    both = [family.child_a_id, family.child_b_id]
    observation_id = observe(
        app,
        family,
        both,
        "Ada and Barty at the sand tray.",
        photos=[(photo_bytes(64, 48), "At the sand tray", both)],
    )
    with inside(app, family.slug):
        photo_id = db.session.scalars(select(Photo.id)).one()
    staff = signed_in(app, family, "staff")
    edit = f"/journal/observations/{observation_id}/edit"

    refused = post_form(staff, edit, _correction(family, [family.child_b_id], "Barty played."))

    assert refused.status_code == 422
    assert "Ada Okafor has no photo consent and is ticked in a photo" in refused.text
    assert "Barty played." in refused.text  # what was typed is kept
    assert observation_row(app, family.slug, observation_id).text.startswith("Ada and Barty")
    parent_b = signed_in(app, family, "parent_b")
    b_page = _child_page(family, family.child_b_id, observation_id)
    assert f"/photos/{photo_id}/" not in parent_b.get(b_page).text

    # The author says Ada is not in it after all: then she can be taken off.
    people = f"/journal/observations/{observation_id}/photos/{photo_id}/people"
    response = post_form(staff, people, {f"photo-{photo_id}-in_photo": [str(family.child_b_id)]})
    assert response.status_code == 303
    saved = post_form(staff, edit, _correction(family, [family.child_b_id], "Barty played."))
    assert saved.status_code == 303
    assert f"/photos/{photo_id}/thumb" in parent_b.get(b_page).text


def test_several_photos_are_uploaded_at_once(app, family):
    draft_id = observe(app, family, [family.child_a_id], "Ada's collage.", publish=False)
    staff = signed_in(app, family, "staff")
    response = _add_photos(
        staff,
        draft_id,
        [upload(photo_bytes(64, 48), "one.jpg"), upload(photo_bytes(48, 64), "two.jpg")],
        caption="The collage",
        in_photo=[str(family.child_a_id)],
    )
    assert "2 photos are added." in response.text
    with inside(app, family.slug):
        photos = db.session.scalars(select(Photo).order_by(Photo.position)).all()
        assert [(p.width < p.height, p.child_ids) for p in photos] == [
            (False, {family.child_a_id}),
            (True, {family.child_a_id}),
        ]


def test_adding_a_photo_to_a_published_observation_is_a_revision(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada at the pond.")
    staff = signed_in(app, family, "staff")
    response = _add_photos(
        staff, observation_id, [upload(photo_bytes(64, 48))], caption="Frogspawn"
    )
    assert "The photo is added." in response.text
    history = staff.get(f"/journal/observations/{observation_id}").text
    assert "Changes since it was published" in history and "Frogspawn" in history
    with inside(app, family.slug):
        assert db.session.get_one(Observation, observation_id).status is ObservationStatus.PUBLISHED


# ---------------------------------------------------------------- comments


def _comment_id(app, family, body: str) -> int:
    with inside(app, family.slug):
        return db.session.scalar(select(Comment.id).where(Comment.body == body))


def test_a_parent_changes_and_deletes_their_own_comment(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada baked bread.")
    page = _child_page(family, family.child_a_id, observation_id)
    parent = signed_in(app, family, "parent_a")
    post_form(parent, f"{page}/comments", {"body": "She loved the doughh!"})
    comment_id = _comment_id(app, family, "She loved the doughh!")
    assert "Change your comment" in parent.get(page).text

    edit = f"{page}/comments/{comment_id}/edit"
    assert "She loved the doughh!" in parent.get(edit).text
    assert post_form(parent, edit, {"body": "   "}).status_code == 422
    response = post_form(parent, edit, {"body": "She loved the dough!"}, follow_redirects=True)
    assert "She loved the dough!" in response.text and "doughh" not in response.text
    assert "(edited)" in response.text

    # Nobody else may change it: staff see it, and can hide it, but not rewrite it.
    staff = signed_in(app, family, "staff")
    assert staff.get(edit).status_code == 404
    assert post_form(staff, f"{page}/comments/{comment_id}/delete").status_code == 404

    response = post_form(parent, f"{page}/comments/{comment_id}/delete", follow_redirects=True)
    assert (
        "Your comment is deleted." in response.text and "She loved the dough!" not in response.text
    )
    with inside(app, family.slug):
        assert db.session.get(Comment, comment_id) is None
    assert [entry["comment_id"] for entry in _audit(app, family, "comment.deleted")] == [comment_id]

    # A second tap of Delete (a double tap on a phone shows the second answer) says it is
    # deleted, not "Page not found"; to anyone else the comment is simply not there.
    again = post_form(parent, f"{page}/comments/{comment_id}/delete")
    assert again.status_code == 303 and again.headers["Location"].endswith(f"{page}#comments")
    assert "Your comment is deleted." in parent.get(page).text
    assert post_form(staff, f"{page}/comments/{comment_id}/delete").status_code == 404
    assert len(_audit(app, family, "comment.deleted")) == 1


def test_a_hidden_comment_can_no_longer_be_changed_by_its_author(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada sang.")
    page = _child_page(family, family.child_a_id, observation_id)
    parent = signed_in(app, family, "parent_a")
    post_form(parent, f"{page}/comments", {"body": "Rude words."})
    comment_id = _comment_id(app, family, "Rude words.")
    staff = signed_in(app, family, "staff")
    assert post_form(staff, f"/journal/comments/{comment_id}/hide").status_code == 303
    response = post_form(parent, f"{page}/comments/{comment_id}/edit", {"body": "Nice words."})
    assert response.status_code == 409
    with inside(app, family.slug):
        assert db.session.get_one(Comment, comment_id).body == "Rude words."
