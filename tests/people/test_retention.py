"""How long leavers' records are kept (the retention schedule) and the parents' grace period
(movable clock)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.auth.models import AuditEntry
from app.extensions import db
from app.people import children, policies
from app.people.models import ParentDeparture
from app.people.sweep import deactivation_sweep
from app.retention.archive import children_past_retention
from app.retention.schedule import RULES, retention_schedule
from tenants.models import Setting
from tests.helpers.clients import post_form
from tests.helpers.people import TODAY, child_details, get_child, get_user, inside, signed_in

HEADING = "Records past their retention date: they should be purged"


def _leaves_on(app, nursery, child_id: int, leaving: date) -> None:
    with inside(app, nursery.slug):
        children.set_child_leaving_date(
            get_child(child_id), leaving, by=get_user(nursery.manager_id)
        )
        db.session.commit()


def _archive_row(page: str, name: str) -> str:
    match = re.search(rf"<tr>\s*<td[^>]*><a [^>]*>{name}</a>.*?</tr>", page, re.S)
    assert match, f"{name} is not in the archive"
    return match.group(0)


def _policies(app, slug: str) -> tuple[int, int]:
    with inside(app, slug):
        years = retention_schedule()["retention_years_after_leaving"]
        return policies.people_policies().parent_grace_days, years


def _schedule_form(**changes: str) -> dict[str, str]:
    form = {rule.key: str(rule.default) for rule in RULES}
    form.update(changes)
    return form


def test_the_archive_shows_each_childs_retention_deadline(app, nursery):
    _leaves_on(app, nursery, nursery.child_id, TODAY)
    with inside(app, nursery.slug):
        leap = child_details(
            first_name="Lee",
            last_name="Leap",
            date_of_birth=date(2020, 5, 1),
            start_date=date(2022, 9, 1),
            leaving_date=date(2024, 2, 29),
        )
        children.create_child(leap, by=get_user(nursery.manager_id))
        db.session.commit()
    page = signed_in(app, nursery, "manager").get("/people/children/archive").text
    assert "kept for 3 years after they leave" in page
    assert "1 December 2029" in _archive_row(page, "Ada Okafor")
    assert "28 February 2027" in _archive_row(page, "Lee Leap")
    assert "(passed: purge)" not in page


def test_records_are_listed_for_purging_once_their_deadline_has_come(app, nursery):
    _leaves_on(app, nursery, nursery.child_id, TODAY)
    clock.advance(timedelta(days=3 * 365))  # 30 November 2029: one day to go
    assert clock.today() == date(2029, 11, 30)
    manager = signed_in(app, nursery, "manager")
    dashboard = manager.get("/").text
    assert "Needs attention" in dashboard and HEADING not in dashboard
    assert "(passed: purge)" not in manager.get("/people/children/archive").text

    clock.advance(timedelta(days=1))  # sessions do not last a day: sign in again
    manager = signed_in(app, nursery, "manager")
    for path in ("/", "/people/"):
        page = manager.get(path).text
        assert HEADING in page, path
        listed = page.split(HEADING, 1)[1].split("</ul>", 1)[0]
        assert "Ada Okafor" in listed and "retention deadline 1 December 2029" in listed
        assert f'href="/people/children/{nursery.child_id}"' in listed
    archive = manager.get("/people/children/archive").text
    assert "(passed: purge)" in _archive_row(archive, "Ada Okafor")


def test_a_child_still_at_the_setting_is_never_listed_for_purging(app, nursery):
    clock.advance(timedelta(days=30 * 365))
    with inside(app, nursery.slug):
        assert children_past_retention() == []


def test_the_manager_changes_the_policies_and_dates_follow(app, nursery):
    _leaves_on(app, nursery, nursery.child_id, TODAY)
    manager = signed_in(app, nursery, "manager")
    overview = manager.get("/people/").text
    assert 'name="parent_grace_days"' in overview and 'value="14"' in overview
    schedule = manager.get("/retention/").text
    assert 'name="retention_years_after_leaving"' in schedule and 'value="3"' in schedule

    saved = post_form(manager, "/people/policies", {"parent_grace_days": "30"})
    assert saved.status_code == 303
    assert "The people policies are saved." in manager.get(saved.headers["Location"]).text
    saved = post_form(manager, "/retention/", _schedule_form(retention_years_after_leaving="5"))
    assert saved.status_code == 303
    assert "The retention schedule is saved." in manager.get(saved.headers["Location"]).text
    assert _policies(app, nursery.slug) == (30, 5)
    archive = manager.get("/people/children/archive").text
    assert "1 December 2031" in _archive_row(archive, "Ada Okafor")
    with inside(app, nursery.slug):
        grace, years = (
            db.session.scalars(select(AuditEntry).where(AuditEntry.event == event)).one()
            for event in ("people.policies_changed", "retention.period_changed")
        )
        assert grace.actor_id == years.actor_id == nursery.manager_id
        assert grace.detail == {"parent_grace_days": 30}
        assert years.detail == {"record": "retention_years_after_leaving", "old": 3, "new": 5}

    clock.advance(timedelta(days=1))  # the sweep tells Pat their access ends in 30 days
    with app.app_context():
        deactivation_sweep()
    with inside(app, nursery.slug):
        departure = db.session.get_one(ParentDeparture, nursery.parent_id)
        assert departure.access_ends_on == clock.today() + timedelta(days=30)


def test_each_settings_policies_are_its_own(app, nursery, make_setting):
    other = make_setting()
    manager = signed_in(app, nursery, "manager")
    post_form(manager, "/people/policies", {"parent_grace_days": "0"})
    post_form(manager, "/retention/", _schedule_form(retention_years_after_leaving="25"))
    assert _policies(app, nursery.slug) == (0, 25)
    assert _policies(app, other.slug) == (14, 3)


@pytest.mark.parametrize(
    ("path", "field", "value", "message"),
    [
        ("/people/policies", "parent_grace_days", "-1", "between 0 and 90 days"),
        ("/people/policies", "parent_grace_days", "91", "between 0 and 90 days"),
        ("/people/policies", "parent_grace_days", "", "is required"),
        ("/retention/", "retention_years_after_leaving", "0", "between 1 and 25 years"),
        ("/retention/", "retention_years_after_leaving", "26", "between 1 and 25 years"),
        ("/retention/", "retention_years_after_leaving", "2.5", "a whole number of years"),
        ("/retention/", "retention_years_after_leaving", "9" * 40, "between 1 and 25 years"),
        ("/retention/", "staff_retention_years", "11", "between 1 and 10 years"),
        ("/retention/", "link_retention_days", "0", "between 1 and 365 days"),
    ],
)
def test_bad_policy_values_are_a_form_error_and_nothing_is_saved(
    app, nursery, path, field, value, message
):
    manager = signed_in(app, nursery, "manager")
    form = {"parent_grace_days": "30"} if path == "/people/policies" else _schedule_form()
    answered = post_form(manager, path, {**form, field: value})
    assert answered.status_code == 422
    assert message in answered.text
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', answered.text) or re.search(
        rf'aria-invalid="true"[^>]*id="{field}"', answered.text
    )
    assert _policies(app, nursery.slug) == (14, 3)
    with inside(app, nursery.slug):
        assert retention_schedule() == {rule.key: rule.default for rule in RULES}


def test_the_database_refuses_a_retention_period_out_of_range(app, nursery):
    with inside(app, nursery.slug), pytest.raises(IntegrityError):
        db.session.execute(
            update(Setting)
            .where(Setting.slug == nursery.slug)
            .values(retention_years_after_leaving=0)
        )
        db.session.flush()
