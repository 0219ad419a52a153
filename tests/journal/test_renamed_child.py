"""A child renamed by the manager (a preferred name, a new surname) is still masked by the
names earlier observations call them: other families read neither the old nor the new."""

from __future__ import annotations

from tests.helpers.clients import post_form
from tests.helpers.journal import observe, signed_in

RENAMED = {
    "first_name": "Bartholomew",
    "preferred_name": "Bertie",
    "last_name": "Smith",
    "date_of_birth": "2023-04-02",
    "start_date": "2025-09-01",
    "room": "Rainbows",
    "key_person_id": "0",
    "leaving_date": "",
    "photo_consent": "y",
}


def test_a_renamed_childs_former_names_stay_hidden_from_other_families(app, family):
    text = "Ada and Barty Quince built a den. Barty's idea!"
    observation_id = observe(app, family, [family.child_a_id, family.child_b_id], text)
    manager = signed_in(app, family, "manager")
    edited = post_form(manager, f"/people/children/{family.child_b_id}/edit", RENAMED)
    assert edited.status_code == 303, edited.text
    later = observe(
        app, family, [family.child_a_id, family.child_b_id], "Ada and Bertie Smith hid."
    )

    parent_a = signed_in(app, family, "parent_a")
    journal = f"/journal/children/{family.child_a_id}"
    pages = [
        parent_a.get(journal).text,
        parent_a.get(f"{journal}/observations/{observation_id}").text,
    ]
    pages.append(parent_a.get(f"{journal}/observations/{later}").text)
    for name in ("Barty", "Quince", "Bertie", "Smith", "Bartholomew"):
        assert not [page for page in pages if name in page], name
    assert "Ada and a friend built a den." in pages[1]
    # The child's own family still reads the text as it was written.
    parent_b = signed_in(app, family, "parent_b")
    own = f"/journal/children/{family.child_b_id}/observations/{observation_id}"
    assert "A friend and Barty Quince built a den." in parent_b.get(own).text


def test_staff_are_warned_when_they_write_a_renamed_childs_former_name(app, family):
    """The "no other children's names" rule reads former names as the masking does."""
    manager = signed_in(app, family, "manager")
    rules = {"group_names": "hidden", "mode": "warn", "no_other_children_names": "y"}
    assert post_form(manager, "/journal/policies", rules).status_code == 303
    edited = post_form(manager, f"/people/children/{family.child_b_id}/edit", RENAMED)
    assert edited.status_code == 303, edited.text
    staff = signed_in(app, family, "staff")
    for text, fragment in (
        ("Ada gave Barty the red crayon.", "Barty"),
        ("Ada waved at Quince's mum.", "Quince's"),
        ("Ada and Barty Quince hid.", "Barty Quince"),
    ):
        draft = observe(app, family, [family.child_a_id], text, publish=False)
        stopped = post_form(staff, f"/journal/observations/{draft}/publish")
        assert stopped.status_code == 200, text
        assert f"<mark>{fragment}</mark>" in stopped.text and "Publish anyway" in stopped.text
