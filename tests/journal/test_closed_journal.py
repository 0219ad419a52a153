"""A child who has left has a closed journal: it is still read (and packed), but no new
comment or photo joins their observations (409, saying so; the forms are not offered).
An observation also about a child still here stays open: it is in their journal too.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.auth.models import AuditEntry
from app.extensions import db
from app.journal.models import Comment, Observation, ObservationStatus, Photo
from tests.helpers.clients import post_form
from tests.helpers.journal import (
    correct,
    observe,
    observe_with_a_photo,
    photo_bytes,
    signed_in,
    upload,
)
from tests.helpers.people import inside


def _leaves(app, family, child_id: int) -> None:
    manager = signed_in(app, family, "manager")
    assert post_form(manager, f"/people/children/{child_id}/archive").status_code == 303


def _count(app, family, model: type) -> int:
    with inside(app, family.slug):
        return db.session.scalar(select(func.count()).select_from(model))


def _comment(client, child_id: int, observation_id: int, body: str):
    path = f"/journal/children/{child_id}/observations/{observation_id}/comments"
    return post_form(client, path, {"body": body})


def _add_photo(client, observation_id: int):
    return post_form(
        client,
        f"/journal/observations/{observation_id}/photos",
        {"photo": upload(photo_bytes(64, 48)), "caption": ""},
        content_type="multipart/form-data",
    )


def test_a_parent_reads_but_cannot_comment_once_their_child_has_left(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada painted a boat.")
    _leaves(app, family, family.child_a_id)
    parent = signed_in(app, family, "parent_a")
    page = parent.get(f"/journal/children/{family.child_a_id}/observations/{observation_id}")
    assert page.status_code == 200
    assert "Ada painted a boat." in page.text
    assert "Ada has left: their journal is closed." in page.text
    assert 'name="body"' not in page.text and "Add comment" not in page.text

    refused = _comment(parent, family.child_a_id, observation_id, "Thank you!")
    assert refused.status_code == 409
    assert "Ada has left: their journal is closed." in refused.text
    refused_empty = _comment(parent, family.child_a_id, observation_id, "")
    assert refused_empty.status_code == 409  # refused whatever was written
    assert _count(app, family, Comment) == 0


def test_no_photo_is_added_to_a_published_observation_of_a_child_who_has_left(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada dug for worms.")
    _leaves(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")  # staff no longer reach it at all (404)
    page = manager.get(f"/journal/observations/{observation_id}")
    assert page.status_code == 200
    assert "Ada Okafor has left: their journal is closed." in page.text
    assert "Add photos" not in page.text and 'name="photo"' not in page.text

    refused = _add_photo(manager, observation_id)
    assert refused.status_code == 409
    assert "Ada Okafor has left: their journal is closed." in refused.text
    assert _count(app, family, Photo) == 0


def test_a_group_observation_about_a_child_still_here_stays_open(app, family):
    """Ada has left, Barty has not: the observation is in Barty's open journal, where
    staff read it, its comments in each child's view included."""
    both = [family.child_a_id, family.child_b_id]
    observation_id = observe(app, family, both, "Ada and Barty built a den.")
    _leaves(app, family, family.child_a_id)
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation_id}"
    page = parent.get(path)
    assert 'name="body"' in page.text and "has left" not in page.text
    assert _comment(parent, family.child_a_id, observation_id, "Ada loved it.").status_code == 303
    assert _count(app, family, Comment) == 1
    staff = signed_in(app, family, "staff")
    staff_page = staff.get(f"/journal/observations/{observation_id}")
    assert "Ada loved it." in staff_page.text and "Add photos" in staff_page.text
    assert _add_photo(staff, observation_id).status_code == 303
    assert _count(app, family, Photo) == 1


def test_once_every_child_of_a_group_observation_has_left_it_is_closed(app, family):
    both = [family.child_a_id, family.child_b_id]
    observation_id = observe(app, family, both, "Ada and Barty built a den.")
    _leaves(app, family, family.child_a_id)
    _leaves(app, family, family.child_b_id)
    manager = signed_in(app, family, "manager")
    refused = _add_photo(manager, observation_id)
    assert refused.status_code == 409
    assert "Ada Okafor, Bartholomew Quince have left: their journals are closed." in refused.text
    parent = signed_in(app, family, "parent_a")
    refused = _comment(parent, family.child_a_id, observation_id, "Thank you!")
    assert refused.status_code == 409
    assert "Ada has left: their journal is closed." in refused.text  # no other child named
    assert _count(app, family, Photo) == 0 and _count(app, family, Comment) == 0


def _comment_path(family, observation_id: int, comment_id: int) -> str:
    return (
        f"/journal/children/{family.child_a_id}/observations/{observation_id}/comments/{comment_id}"
    )


def test_a_comment_written_before_the_child_left_can_no_longer_be_changed(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada painted a boat.")
    parent = signed_in(app, family, "parent_a")
    assert _comment(parent, family.child_a_id, observation_id, "Lovely!").status_code == 303
    with inside(app, family.slug):
        comment_id = db.session.scalar(select(Comment.id))
    _leaves(app, family, family.child_a_id)

    page = parent.get(f"/journal/children/{family.child_a_id}/observations/{observation_id}")
    assert "Lovely!" in page.text
    assert "Change your comment" not in page.text and "Delete your comment" not in page.text
    path = _comment_path(family, observation_id, comment_id)
    assert parent.get(f"{path}/edit").status_code == 409
    refused = post_form(parent, f"{path}/edit", {"body": "Changed my mind."})
    assert refused.status_code == 409
    assert "Ada has left: their journal is closed." in refused.text
    assert post_form(parent, f"{path}/delete").status_code == 409
    with inside(app, family.slug):
        assert db.session.scalars(select(Comment.body)).all() == ["Lovely!"]


def test_the_manager_still_corrects_the_text_of_a_closed_journal_audited(app, family):
    """A family may ask for a correction after leaving (the right to rectification)."""
    observation_id = observe(app, family, [family.child_a_id], "Ada paintd a boat.")
    _leaves(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    page = manager.get(f"/journal/observations/{observation_id}")
    assert "Correct the observation" in page.text
    assert "Withdraw from the journals" not in page.text
    assert "Delete this observation" not in page.text
    corrected = correct(manager, observation_id, [family.child_a_id], "Ada painted a boat.")
    assert corrected.status_code == 303, corrected.text
    with inside(app, family.slug):
        observation = db.session.get_one(Observation, observation_id)
        assert observation.text == "Ada painted a boat."
        assert observation.status is ObservationStatus.PUBLISHED
        events = db.session.scalars(select(AuditEntry.event)).all()
    assert "observation.rectified" in events


def test_a_closed_journal_is_otherwise_read_only_for_the_manager(app, family):
    observation_id, photo_id = observe_with_a_photo(app, family, "Ada dug for worms.")
    _leaves(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    base = f"/journal/observations/{observation_id}"
    page = manager.get(base)
    assert "Remove photo 1" not in page.text and "Save who is in photo 1" not in page.text
    closed = "Ada Okafor has left: their journal is closed."
    for refused in (
        post_form(manager, f"{base}/withdraw"),
        manager.get(f"{base}/delete"),
        post_form(manager, f"{base}/delete", {"reason": "Asked to."}),
        post_form(manager, f"{base}/photos/{photo_id}/remove"),
        post_form(manager, f"{base}/photos/{photo_id}/people", {f"photo-{photo_id}-in_photo": []}),
        correct(manager, observation_id, [family.child_a_id, family.child_b_id], "Ada and Barty."),
    ):
        assert refused.status_code in (409, 422), refused.text
        assert closed in refused.text or "stay as they are" in refused.text
    with inside(app, family.slug):
        observation = db.session.get_one(Observation, observation_id)
        assert observation.status is ObservationStatus.PUBLISHED
        assert observation.text == "Ada dug for worms." and observation.child_ids == {
            family.child_a_id
        }
        assert [photo.id for photo in observation.photos] == [photo_id]


def test_staff_cannot_correct_a_closed_journal(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada painted a boat.")
    _leaves(app, family, family.child_a_id)
    staff = signed_in(app, family, "staff")  # its author
    refused = correct(staff, observation_id, [family.child_a_id], "Ada painted a ship.")
    assert refused.status_code in (404, 409)
    with inside(app, family.slug):
        assert db.session.get_one(Observation, observation_id).text == "Ada painted a boat."


def test_a_group_observation_about_a_child_still_here_stays_editable(app, family):
    both = [family.child_a_id, family.child_b_id]
    observation_id = observe(app, family, both, "Ada and Barty built a den.")
    _leaves(app, family, family.child_a_id)
    staff = signed_in(app, family, "staff")
    assert correct(staff, observation_id, both, "Ada and Barty built a big den.").status_code == 303
    with inside(app, family.slug):
        assert "observation.rectified" not in db.session.scalars(select(AuditEntry.event)).all()
