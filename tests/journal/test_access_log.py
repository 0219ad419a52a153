"""The journal access log: every view of a child's journal or an observation, and nothing else."""

from __future__ import annotations

from sqlalchemy import select, text

from app.extensions import db
from app.journal import access_log
from app.journal.models import JournalAccess, JournalView
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, observe_with_a_photo, signed_in
from tests.helpers.people import TODAY, get_user, inside


def _log(app, slug: str) -> list[tuple[int | None, int, int | None, str]]:
    with inside(app, slug):
        rows = db.session.scalars(select(JournalAccess).order_by(JournalAccess.id))
        return [(row.viewer_id, row.child_id, row.observation_id, row.what.value) for row in rows]


def test_views_are_recorded_with_who_when_and_which_child(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada climbed.")
    parent = signed_in(app, family, "parent_a")
    base = f"/journal/children/{family.child_a_id}"
    parent.get(base)
    parent.get(f"{base}/observations/{observation_id}")
    parent.get(f"{base}/observations/{observation_id}.json")
    post_form(parent, f"/retention/children/{family.child_a_id}/leaving-pack")
    a, parent_id = family.child_a_id, family.parent_a_id
    assert _log(app, family.slug) == [
        (parent_id, a, None, "journal"),
        (parent_id, a, observation_id, "observation"),
        (parent_id, a, observation_id, "observation"),
        (parent_id, a, None, "export"),
    ]
    with inside(app, family.slug):
        moments = set(db.session.scalars(select(JournalAccess.at)))
    assert {moment.date() for moment in moments} == {TODAY}


def test_staff_viewing_a_group_observation_is_recorded_for_each_child(app, family):
    observation_id = observe(app, family, [family.child_a_id, family.child_b_id], "Both ran.")
    staff = signed_in(app, family, "staff")
    staff.get(f"/journal/observations/{observation_id}")
    assert _log(app, family.slug) == [
        (family.staff_id, family.child_a_id, observation_id, "observation"),
        (family.staff_id, family.child_b_id, observation_id, "observation"),
    ]


def test_nothing_but_views_is_recorded(app, family):
    observation_id, photo_id = observe_with_a_photo(app, family, "Ada hopped.")
    parent = signed_in(app, family, "parent_a")
    base = f"/journal/children/{family.child_a_id}"
    post_form(parent, f"{base}/observations/{observation_id}/comments", {"body": "Lovely"})
    parent.get(f"{base}/photos/{photo_id}/full")
    parent.get(f"{base}/home-observations/new")
    post_form(parent, f"{base}/home-observations/new", {"observed_on": "2026-12-01", "text": "Hi"})
    parent.get(f"{base}/observations/99999")  # not found: nothing was seen
    parent.get("/journal/children/99999")
    parent.get(f"/journal/children/{family.child_b_id}")  # refused: nothing was seen
    staff = signed_in(app, family, "staff")
    staff.get("/journal/")
    staff.get("/journal/review")
    staff.get("/journal/observations/new")
    staff.get(f"/journal/photos/{photo_id}/thumb")
    manager = signed_in(app, family, "manager")
    manager.get(f"{base}/access-log")
    manager.get("/journal/policies")
    assert _log(app, family.slug) == []


def test_managers_read_the_log_per_child(app, family):
    observation_id = observe(app, family, [family.child_a_id, family.child_b_id], "Both sang.")
    signed_in(app, family, "parent_a").get(f"/journal/children/{family.child_a_id}")
    parent_b = signed_in(app, family, "parent_b")
    parent_b.get(f"/journal/children/{family.child_b_id}/observations/{observation_id}")
    manager = signed_in(app, family, "manager")
    page_a = manager.get(f"/journal/children/{family.child_a_id}/access-log").text
    assert "Pat Okafor (parent or carer)" in page_a and "The journal" in page_a
    assert "Robin Quince" not in page_a
    page_b = manager.get(f"/journal/children/{family.child_b_id}/access-log").text
    assert "Robin Quince (parent or carer)" in page_b and f"Observation {observation_id}" in page_b
    assert "Pat Okafor" not in page_b
    assert _log(app, family.slug)[-1][3] == JournalView.OBSERVATION.value


def _synchronous_commit() -> str:
    return db.session.scalar(text("SHOW synchronous_commit"))


def test_a_page_views_transaction_alone_commits_without_waiting_for_the_disk(app, family):
    with inside(app, family.slug):
        parent = get_user(family.parent_a_id)
        access_log.record_view(parent, [family.child_a_id], JournalView.JOURNAL, only_write=True)
        assert _synchronous_commit() == "off"
        db.session.commit()
        assert _synchronous_commit() == "on"  # that transaction only
        access_log.record_view(parent, [family.child_a_id], JournalView.EXPORT)
        assert _synchronous_commit() == "on"  # a view recorded beside other writes waits
        db.session.commit()
    a, parent_id = family.child_a_id, family.parent_a_id
    assert _log(app, family.slug) == [
        (parent_id, a, None, "journal"),
        (parent_id, a, None, "export"),
    ]
