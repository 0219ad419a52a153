"""A child's journal page is picked from the observation's tag rows, which carry its date,
status and kind (``ObservationChild``). After every change that moves an observation into
a journal, out of it or along it, each page shows what the observations themselves say:
the same observations, in the same order, with the same total.

The expected journal is read here from the observations' own columns, with the rule
written out in SQL (published, or for a parent their own home observations; newest
first), never from the tag rows' copy.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import text

from app.extensions import db
from app.paging import PAGE_SIZE
from tests.helpers.clients import HostClient, post_form
from tests.helpers.journal import Journal, observe, signed_in
from tests.helpers.migrations import downgrade_setting
from tests.helpers.people import TODAY, inside
from tests.helpers.retention import archive

_EXPECTED = text(
    """
    SELECT o.id FROM observations AS o
    WHERE EXISTS (SELECT 1 FROM observation_children AS t
                  WHERE t.observation_id = o.id AND t.child_id = :child_id)
      AND (o.status = 'published'
           OR (:as_parent AND o.kind = 'home' AND o.author_id = :viewer_id))
    ORDER BY o.observed_on DESC, o.id DESC
    """
)


def _expected(app, family: Journal, child_id: int, viewer_id: int, as_parent: bool) -> list[int]:
    with inside(app, family.slug):
        parameters = {"child_id": child_id, "viewer_id": viewer_id, "as_parent": as_parent}
        return list(db.session.scalars(_EXPECTED, parameters))


def _shown(client: HostClient, child_id: int, page: int) -> tuple[list[int], str | None]:
    """The observations a page links to, in order, and its "Page x of y (n ...)" line."""
    response = client.get(f"/journal/children/{child_id}?page={page}")
    assert response.status_code == 200
    linked = re.findall(rf'href="/journal/children/{child_id}/observations/(\d+)"', response.text)
    summary = re.search(r"Page \d+ of \d+ \(\d+ [a-z]+\)", response.text)
    return [int(found) for found in linked], summary[0] if summary else None


def _assert_pages_right(
    app, family: Journal, client: HostClient, child_id: int, viewer_id: int, as_parent: bool
) -> list[int]:
    expected = _expected(app, family, child_id, viewer_id, as_parent)
    pages = max(1, -(-len(expected) // PAGE_SIZE))
    for number in range(1, pages + 1):
        shown, summary = _shown(client, child_id, number)
        assert shown == expected[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        if pages == 1:  # no page links, no numbers
            assert summary is None
        else:
            assert summary == f"Page {number} of {pages} ({len(expected)} observations)"
    return expected


def _edit(client: HostClient, observation_id: int, child_ids: list[int], **changes) -> None:
    form = {
        "observed_on": TODAY.isoformat(),
        "child_ids": [str(child_id) for child_id in child_ids],
        "text": "Ada and the blocks.",
        "areas": ["cl"],
        "caption": "",
        **changes,
    }
    response = post_form(client, f"/journal/observations/{observation_id}/edit", form)
    assert response.status_code == 303, response.text


def test_every_change_to_an_observation_moves_it_in_the_journal_pages_as_it_should(app, family):
    a, b = family.child_a_id, family.child_b_id
    ids = [
        observe(app, family, [a], f"Ada, day {days}.", observed_on=TODAY - timedelta(days=days))
        for days in range(PAGE_SIZE)
    ]
    group = observe(
        app, family, [a, b], "Ada and Barty, together.", observed_on=TODAY - timedelta(days=3)
    )
    parent, staff, manager = (
        signed_in(app, family, who) for who in ("parent_a", "staff", "manager")
    )
    journal = _assert_pages_right(app, family, parent, a, family.parent_a_id, True)
    assert len(journal) == PAGE_SIZE + 1  # two pages

    # A correction of the date moves it (the oldest, on page 2, becomes the newest).
    oldest = ids[-1]
    _edit(staff, oldest, [a], observed_on=TODAY.isoformat())
    assert _assert_pages_right(app, family, parent, a, family.parent_a_id, True)[0] == oldest
    _edit(staff, ids[0], [a], observed_on=(TODAY - timedelta(days=30)).isoformat())
    assert _assert_pages_right(app, family, parent, a, family.parent_a_id, True)[-1] == ids[0]

    # Withdrawn: out of the journal (one page now); published again: back in its place.
    assert post_form(staff, f"/journal/observations/{ids[5]}/withdraw").status_code == 303
    assert ids[5] not in _assert_pages_right(app, family, parent, a, family.parent_a_id, True)
    assert post_form(staff, f"/journal/observations/{ids[5]}/publish").status_code == 303
    assert ids[5] in _assert_pages_right(app, family, parent, a, family.parent_a_id, True)

    # Deleted.
    deleted = post_form(manager, f"/journal/observations/{ids[7]}/delete", {"reason": "Wrong."})
    assert deleted.status_code == 303
    assert ids[7] not in _assert_pages_right(app, family, parent, a, family.parent_a_id, True)

    # Taken off a group observation: gone from A's journal, still in B's.
    _edit(manager, group, [b], observed_on=(TODAY - timedelta(days=3)).isoformat())
    assert group not in _assert_pages_right(app, family, parent, a, family.parent_a_id, True)
    parent_b = signed_in(app, family, "parent_b")
    assert _assert_pages_right(app, family, parent_b, b, family.parent_b_id, True) == [group]
    # Put back on it, with a new date: in A's journal again, where that date puts it.
    _edit(manager, group, [a, b], observed_on=(TODAY - timedelta(days=1)).isoformat())
    assert group in _assert_pages_right(app, family, parent, a, family.parent_a_id, True)
    _assert_pages_right(app, family, staff, a, family.staff_id, False)


def test_a_parents_own_home_observation_is_in_their_journal_whatever_becomes_of_it(app, family):
    a = family.child_a_id
    for days in range(3):
        observe(app, family, [a], f"Ada, day {days}.", observed_on=TODAY - timedelta(days=days))
    parent, staff = signed_in(app, family, "parent_a"), signed_in(app, family, "staff")
    sent = post_form(
        parent,
        f"/journal/children/{a}/home-observations/new",
        {"observed_on": (TODAY - timedelta(days=1)).isoformat(), "text": "Ada baked bread."},
    )
    assert sent.status_code == 303, sent.text
    with inside(app, family.slug):
        home = db.session.scalar(text("SELECT id FROM observations WHERE kind = 'home'"))
    assert home in _assert_pages_right(app, family, parent, a, family.parent_a_id, True)
    assert home not in _assert_pages_right(app, family, staff, a, family.staff_id, False)

    sent_back = post_form(staff, f"/journal/observations/{home}/send-back", {"note": "Thanks!"})
    assert sent_back.status_code == 303
    assert home in _assert_pages_right(app, family, parent, a, family.parent_a_id, True)
    assert home not in _assert_pages_right(app, family, staff, a, family.staff_id, False)


def test_after_a_purge_scrubs_a_group_observation_the_other_childs_journal_is_right(app, family):
    a, b = family.child_a_id, family.child_b_id
    observe(app, family, [b], "Barty alone.", observed_on=TODAY - timedelta(days=2))
    group = observe(app, family, [a, b], "Ada and Barty Quince.", observed_on=TODAY)
    observe(app, family, [a], "Ada alone.", observed_on=TODAY - timedelta(days=1))
    archive(app, family, b)
    manager = signed_in(app, family, "manager")
    purged = post_form(
        manager, f"/retention/archive/child/{b}/purge", {"confirm_name": "Bartholomew Quince"}
    )
    assert purged.status_code == 303, purged.text

    parent = signed_in(app, family, "parent_a")
    journal = _assert_pages_right(app, family, parent, a, family.parent_a_id, True)
    assert journal[0] == group and len(journal) == 2
    assert "Quince" not in parent.get(f"/journal/children/{a}").text


_TAG_COLUMNS = text(
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = 'observation_children'"
)


def test_a_setting_migrated_from_before_the_tags_carried_the_key_has_its_journals_right(
    app, family
):
    a, b = family.child_a_id, family.child_b_id
    for days in range(PAGE_SIZE + 2):
        observe(app, family, [a], f"Ada, day {days}.", observed_on=TODAY - timedelta(days=days))
    draft = observe(app, family, [a, b], "Ada and Barty, a draft.", publish=False)
    observe(app, family, [a, b], "Ada and Barty.", observed_on=TODAY - timedelta(days=4))
    downgrade_setting(app, family.slug, "3e7b9d2c5a81")
    with inside(app, family.slug):
        columns = db.session.scalars(_TAG_COLUMNS)
        assert set(columns) == {"observation_id", "child_id"}

    migrated = app.test_cli_runner().invoke(args=["tenants", "migrate"])
    assert migrated.exit_code == 0, migrated.output
    assert f"{family.slug}: up to date" in migrated.output
    parent, staff = signed_in(app, family, "parent_a"), signed_in(app, family, "staff")
    assert len(_assert_pages_right(app, family, parent, a, family.parent_a_id, True)) == 23
    _assert_pages_right(
        app, family, signed_in(app, family, "parent_b"), b, family.parent_b_id, True
    )
    # What is written after the migration keeps to the rule as well.
    assert post_form(staff, f"/journal/observations/{draft}/publish").status_code == 303
    assert draft in _assert_pages_right(app, family, parent, a, family.parent_a_id, True)
