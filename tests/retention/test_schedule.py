"""The retention schedule page: a shorter period is saved only once the manager has seen
how many records it makes due for tonight's purge."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app import clock
from app.auth.models import AuditEntry
from app.extensions import db
from app.journal.models import JournalAccess
from app.retention.schedule import RULES, retention_schedule
from tests.helpers.clients import post_form
from tests.helpers.journal import signed_in
from tests.helpers.people import inside
from tests.helpers.retention import archive
from workers.jobs import run_job_now


def _schedule_form(**changes: str) -> dict[str, str]:
    form = {rule.key: str(rule.default) for rule in RULES}
    form.update(changes)
    return form


def _saved(app, slug: str) -> dict[str, int]:
    with inside(app, slug):
        return retention_schedule()


def _changes(app, slug: str) -> list[dict]:
    with inside(app, slug):
        return list(
            db.session.scalars(
                select(AuditEntry.detail)
                .where(AuditEntry.event == "retention.period_changed")
                .order_by(AuditEntry.id)
            )
        )


def _text(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_a_shorter_period_asks_first_and_says_how_many_records_become_due(app, family):
    archive(app, family, family.child_a_id)
    clock.advance(timedelta(days=2 * 366))  # left 2 years ago: due in a year under 3 years
    manager = signed_in(app, family, "manager")

    asked = post_form(manager, "/retention/", _schedule_form(retention_years_after_leaving="1"))
    assert asked.status_code == 200
    said = _text(asked.text)
    assert "from 3 years to 1 year after they leave" in said
    assert "1 record becomes due and is purged tonight" in said
    assert _saved(app, family.slug)["retention_years_after_leaving"] == 3  # nothing saved yet
    assert _changes(app, family.slug) == []

    shorter = _schedule_form(retention_years_after_leaving="1")
    confirmed = post_form(manager, "/retention/", {**shorter, "confirm": "yes"})
    assert confirmed.status_code == 303
    assert _saved(app, family.slug)["retention_years_after_leaving"] == 1
    assert _changes(app, family.slug) == [
        {"record": "retention_years_after_leaving", "old": 3, "new": 1, "newly_due": 1}
    ]


def test_a_shorter_period_that_makes_nothing_due_still_asks_and_says_so(app, family):
    manager = signed_in(app, family, "manager")
    asked = post_form(manager, "/retention/", _schedule_form(staff_retention_years="2"))
    assert asked.status_code == 200
    assert "No record becomes due tonight" in _text(asked.text)
    assert _saved(app, family.slug)["staff_retention_years"] == 6


def test_a_longer_period_is_saved_at_once(app, family):
    manager = signed_in(app, family, "manager")
    saved = post_form(manager, "/retention/", _schedule_form(staff_retention_years="8"))
    assert saved.status_code == 303
    assert _saved(app, family.slug)["staff_retention_years"] == 8


def test_a_record_on_legal_hold_is_not_counted_as_becoming_due(app, family):
    archive(app, family, family.child_a_id)
    clock.advance(timedelta(days=2 * 366))
    manager = signed_in(app, family, "manager")
    post_form(manager, f"/retention/archive/child/{family.child_a_id}/hold", {"reason": "Claim"})
    asked = post_form(manager, "/retention/", _schedule_form(retention_years_after_leaving="1"))
    assert asked.status_code == 200
    assert "No record becomes due tonight" in _text(asked.text)


def test_old_log_entries_are_counted_when_the_log_period_is_shortened(app, family):
    signed_in(app, family, "parent_a")  # a sign-in: an audit entry
    clock.advance(timedelta(days=400))
    manager = signed_in(app, family, "manager")
    asked = post_form(manager, "/retention/", _schedule_form(log_retention_years="1"))
    year_ago = clock.now() - timedelta(days=366)
    with inside(app, family.slug):
        old = sum(
            db.session.scalar(select(db.func.count()).where(log.at < year_ago)) or 0
            for log in (AuditEntry, JournalAccess)
        )
    assert old and f"{old} records become due and are purged tonight" in _text(asked.text)


def test_a_period_that_is_not_a_whole_number_says_what_is_wanted(app, family):
    manager = signed_in(app, family, "manager")
    for typed in ("3.5", "three", "1e2"):
        refused = post_form(manager, "/retention/", _schedule_form(staff_retention_years=typed))
        assert refused.status_code == 422
        assert "A member of staff's record: a whole number of years, from 1 to 10." in (
            _text(refused.text).replace("&#39;", "'")
        )
    assert _saved(app, family.slug)["staff_retention_years"] == 6


def test_every_period_out_of_its_bounds_is_named_at_once(app, family):
    manager = signed_in(app, family, "manager")
    refused = post_form(
        manager,
        "/retention/",
        _schedule_form(retention_years_after_leaving="0", link_retention_days="366"),
    )
    assert refused.status_code == 422
    said = _text(refused.text).replace("&#39;", "'")
    assert "A child's record and journal: keep it between 1 and 25 years." in said
    assert "Invitation and reset links: keep it between 1 and 365 days." in said
    assert _saved(app, family.slug) == {rule.key: rule.default for rule in RULES}


def test_periods_out_of_bounds_are_named_with_those_missing_or_not_numbers(app, family):
    """One answer names every problem: a period out of its bounds is not left for the
    next try because another field was empty or not a number."""
    manager = signed_in(app, family, "manager")
    refused = post_form(
        manager,
        "/retention/",
        _schedule_form(
            retention_years_after_leaving="0",
            staff_retention_years="",
            message_retention_days="three",
            export_retention_days="91",
        ),
    )
    assert refused.status_code == 422
    said = _text(refused.text).replace("&#39;", "'")
    summary = said.split("There is a problem", 1)[1].split("A child's record and journal: years")[0]
    for problem in (
        "A child's record and journal: keep it between 1 and 25 years.",
        "A member of staff's record: a period is required.",
        "Sent emails: a whole number of days, from 1 to 365.",
        "Leaving packs and exports: keep it between 1 and 90 days.",
    ):
        assert problem in summary, problem
    assert summary.index("A child's") < summary.index("A member of staff's")  # in form order
    assert _saved(app, family.slug) == {rule.key: rule.default for rule in RULES}


def test_a_shorter_period_for_packs_brings_forward_the_expiry_of_packs_already_made(app, family):
    parent = signed_in(app, family, "parent_a")
    made = post_form(parent, f"/retention/children/{family.child_a_id}/leaving-pack")
    pack_page = made.headers["Location"]
    clock.advance(timedelta(days=10))
    manager = signed_in(app, family, "manager")
    shorter = _schedule_form(export_retention_days="7")
    asked = post_form(manager, "/retention/", shorter)
    assert "1 record becomes due and is purged tonight" in _text(asked.text)
    post_form(manager, "/retention/", {**shorter, "confirm": "yes"})

    parent = signed_in(app, family, "parent_a")
    assert parent.get(f"{pack_page}/journal.pdf").status_code == 410
    with app.app_context():
        assert "leaving packs purged" in run_job_now("retention-purge")
    assert parent.get(pack_page).status_code == 404
