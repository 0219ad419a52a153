"""Clearer pages: a new setting's first steps, the review queue's size, what is new for a
parent, times in the setting's own time zone, and a styled 404 on an unknown subdomain."""

from __future__ import annotations

import re
from datetime import timedelta

from app import clock
from tests.helpers.clients import client_for, csrf_token, post_form
from tests.helpers.journal import observe, signed_in


def test_a_new_settings_dashboard_shows_its_first_steps_until_they_are_done(app, family):
    manager = signed_in(app, family, "manager")
    page = manager.get("/").text
    # The family fixture has children, staff and parents: only the policies are left.
    assert "Getting started" in page
    assert '<a href="/journal/policies">Set the journal&#39;s policies</a>' in page
    assert "<del>Add the children, with their rooms</del>" in page
    form = {"group_names": "hidden", "mode": "warn", "blocked_phrases": ""}
    assert post_form(manager, "/journal/policies", form).status_code == 303
    assert "Getting started" not in manager.get("/").text


def test_staff_see_how_many_items_wait_for_review(app, family):
    staff = signed_in(app, family, "staff")
    assert "Nothing waiting in the review queue" in staff.get("/").text
    parent = signed_in(app, family, "parent_a")
    post_form(
        parent,
        f"/journal/children/{family.child_a_id}/home-observations/new",
        {"observed_on": "2026-11-30", "text": "Ada planted cress at home."},
    )
    assert "1 item waiting in the review queue" in staff.get("/").text


def test_a_parent_sees_what_is_new_since_their_last_visit(app, family):
    observe(app, family, [family.child_a_id], "Ada painted.")
    parent = signed_in(app, family, "parent_a")
    assert "1 new observation since you joined" in parent.get("/").text
    parent.get(f"/journal/children/{family.child_a_id}")  # the parent reads the journal
    assert "Nothing new since your last visit" in parent.get("/").text
    clock.advance(timedelta(minutes=5))
    observe(app, family, [family.child_a_id], "Ada sang.")
    observe(app, family, [family.child_a_id], "Ada danced.")
    assert "2 new observations since your last visit" in parent.get("/").text


def test_times_are_shown_in_the_settings_time_zone_with_the_zone_named(app, family):
    observation_id = observe(app, family, [family.child_a_id], "Ada hopped.")
    parent = signed_in(app, family, "parent_a")
    parent.get(f"/journal/children/{family.child_a_id}/observations/{observation_id}")
    manager = signed_in(app, family, "manager")
    log = f"/journal/children/{family.child_a_id}/access-log"
    assert "1 Dec 2026 09:00 GMT" in manager.get(log).text  # the clock is at 09:00 UTC

    def save(time_zone: str):
        data = {
            "name": "Sunnyside Nursery",
            "time_zone": time_zone,
            "csrf_token": csrf_token(manager, "/settings/branding/"),
        }
        return manager.post("/settings/branding/", data=data)

    assert save("America/New_York").status_code == 303
    assert '<option selected value="America/New_York">' in manager.get("/settings/branding/").text
    assert "1 Dec 2026 04:00 EST" in manager.get(log).text
    assert save("Mars/Olympus_Mons").status_code == 422


def test_an_unknown_subdomain_gets_a_styled_404_linking_to_the_bare_domain(app):
    client = client_for(app, "no-such-nursery")
    page = client.get("/")
    assert page.status_code == 404
    assert 'href="/static/site.css"' in page.text
    # Home is the bare domain, not "/": that is this 404 again.
    assert re.search(r'href="http://localhost(:\d+)?/">Go to the home page', page.text)
    assert client.get("/static/site.css").status_code == 200
