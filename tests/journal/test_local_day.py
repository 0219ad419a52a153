"""An observation's date is the setting's day, not UTC's: a nursery in Sydney writing at
9 a.m. on 2 December (22:00 UTC on the 1st) is offered the 2nd and may file it there."""

from __future__ import annotations

from datetime import UTC, datetime

from app import clock
from tests.helpers.clients import post_form
from tests.helpers.journal import signed_in


def _save_time_zone(manager, time_zone: str) -> None:
    data = {"name": "Sunnyside Nursery", "time_zone": time_zone}
    assert post_form(manager, "/settings/branding/", data).status_code == 303


def test_observations_are_dated_by_the_settings_own_day(app, family):
    _save_time_zone(signed_in(app, family, "manager"), "Australia/Sydney")
    clock.move_to(datetime(2026, 12, 1, 22, 0, tzinfo=UTC))  # 2 Dec 09:00 in Sydney
    staff = signed_in(app, family, "staff")
    assert 'value="2026-12-02"' in staff.get("/journal/observations/new").text
    draft = {"observed_on": "2026-12-02", "child_ids": [str(family.child_a_id)]}
    draft |= {"text": "Ada fed the rabbit before breakfast.", "action": "draft"}
    written = post_form(staff, "/journal/observations/new", draft)
    assert written.status_code == 303, written.text
    parent = signed_in(app, family, "parent_a")
    home = f"/journal/children/{family.child_a_id}/home-observations/new"
    assert 'value="2026-12-02"' in parent.get(home).text
    sent = post_form(parent, home, {"observed_on": "2026-12-02", "text": "Ada made pancakes."})
    assert sent.status_code == 303, sent.text
    # The setting's tomorrow is still the future.
    refused = post_form(parent, home, {"observed_on": "2026-12-03", "text": "Ada made toast."})
    assert refused.status_code == 422
    assert "The date cannot be in the future." in refused.text
