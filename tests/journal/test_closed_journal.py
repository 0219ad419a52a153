"""A child who has left has a closed journal: it is still read (and packed), but no new
comment or photo joins their observations (409, saying so; the forms are not offered).
An observation also about a child still here stays open: it is in their journal too.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.journal.models import Comment, Photo
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, signed_in, upload
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
