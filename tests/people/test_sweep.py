"""The deactivation sweep, with a movable clock: access ends by itself when people leave."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text, update

from app import clock
from app.auth.models import AccountStatus, AuditEntry, Role
from app.extensions import db
from app.mail.delivery import deliver_due_messages
from app.people import children, links
from app.people.models import Child, ParentDeparture, StaffMember
from app.people.sweep import deactivation_sweep, sweep_setting
from tenants.models import Setting
from tenants.registry import forget_cached
from tests.fixtures.smtp import html_of, text_of
from tests.helpers.clients import client_for, is_signed_out, post_form, sign_in
from tests.helpers.people import (
    PASSWORD,
    PIN,
    TODAY,
    activate_first_manager,
    add_user,
    child_details,
    email_of,
    get_child,
    get_user,
    inside,
    signed_in,
)
from workers.models import JobRun, Outcome
from workers.schedule import scheduled_time


def _on(day: date) -> None:
    clock.move_to(datetime(day.year, day.month, day.day, 2, 30, tzinfo=UTC))


def _sweep(app, slug: str, grace_days: int = 14):
    with inside(app, slug):
        counts = sweep_setting(grace_days)
        db.session.commit()
    return counts


def _set_child_leaving(app, slug: str, child_id: int, leaving: date) -> None:
    with inside(app, slug):
        children.set_child_leaving_date(get_child(child_id), leaving, by=None)  # type: ignore[arg-type]
        db.session.commit()


def test_a_child_is_archived_on_their_leaving_date_not_before(app, nursery):
    _set_child_leaving(app, nursery.slug, nursery.other_child_id, TODAY + timedelta(days=2))
    _on(TODAY + timedelta(days=1))
    assert _sweep(app, nursery.slug).children_archived == 0
    _on(TODAY + timedelta(days=2))
    assert _sweep(app, nursery.slug).children_archived == 1
    with inside(app, nursery.slug):
        child = get_child(nursery.other_child_id)
        assert child.is_archived
        assert nursery.other_child_id not in [c.id for c in children.active_children()]
        archived = db.session.scalars(
            select(AuditEntry).where(AuditEntry.event == "child.archived")
        ).all()
        assert archived[-1].actor_id is None  # done by the sweep, not a person
    assert _sweep(app, nursery.slug).children_archived == 0


def test_staff_are_deactivated_on_their_leaving_date(app, nursery):
    with inside(app, nursery.slug):
        db.session.add(
            StaffMember(user_id=nursery.staff_id, leaving_date=TODAY + timedelta(days=1))
        )
        db.session.commit()
    assert _sweep(app, nursery.slug).staff_deactivated == 0
    _on(TODAY + timedelta(days=1))
    assert _sweep(app, nursery.slug).staff_deactivated == 1
    with inside(app, nursery.slug):
        assert get_user(nursery.staff_id).status is AccountStatus.DEACTIVATED
    assert _sweep(app, nursery.slug).staff_deactivated == 0


def test_parent_is_told_once_then_deactivated_after_the_grace_period(app, nursery, mail_outbox):
    parent_email = f"pat@{nursery.slug}.example.org"
    left_on = TODAY + timedelta(days=1)
    _set_child_leaving(app, nursery.slug, nursery.child_id, left_on)

    _on(left_on)
    counts = _sweep(app, nursery.slug)
    assert (counts.children_archived, counts.notices_queued) == (1, 1)
    [notice] = mail_outbox.to(parent_email)
    ends = left_on + timedelta(days=14)
    assert f"{ends:%-d %B %Y}" in notice["Subject"]
    assert "Ada" in text_of(notice) and "leaving pack" in text_of(notice)
    assert f"{ends:%-d %B %Y}" in html_of(notice)

    for day in range(1, 14):  # a sweep every day of the grace period: no more mail
        _on(left_on + timedelta(days=day))
        counts = _sweep(app, nursery.slug)
        assert (counts.notices_queued, counts.parents_deactivated) == (0, 0)
    with inside(app, nursery.slug):
        assert get_user(nursery.parent_id).status is AccountStatus.ACTIVE

    _on(ends)
    assert _sweep(app, nursery.slug).parents_deactivated == 1
    with inside(app, nursery.slug):
        parent = get_user(nursery.parent_id)
        assert parent.status is AccountStatus.DEACTIVATED
        assert db.session.get_one(ParentDeparture, parent.id).access_ends_on == ends
    assert _sweep(app, nursery.slug).parents_deactivated == 0
    assert len(mail_outbox.to(parent_email, timeout=0.2)) == 1


def test_a_parent_with_a_child_still_at_the_setting_keeps_access(app, nursery, mail_outbox):
    with inside(app, nursery.slug):
        links.link_parent(
            get_user(nursery.parent_id),
            get_child(nursery.other_child_id),
            "Mother",
            by=get_user(nursery.manager_id),
        )
        db.session.commit()
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    _on(TODAY + timedelta(days=30))
    counts = _sweep(app, nursery.slug)
    assert (counts.notices_queued, counts.parents_deactivated) == (0, 0)
    assert mail_outbox.to(f"pat@{nursery.slug}.example.org", timeout=0.2) == []


def test_a_late_leaving_date_still_gives_the_whole_grace_period(app, nursery, mail_outbox):
    # The manager records, a month late, that the child left long ago.
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY - timedelta(days=30))
    _sweep(app, nursery.slug)
    with inside(app, nursery.slug):
        departure = db.session.get_one(ParentDeparture, nursery.parent_id)
        assert departure.access_ends_on == TODAY + timedelta(days=14)
        assert get_user(nursery.parent_id).status is AccountStatus.ACTIVE


def test_the_grace_period_is_the_settings_policy(app, nursery, mail_outbox):
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    counts = _sweep(app, nursery.slug, grace_days=0)
    assert (counts.notices_queued, counts.parents_deactivated) == (1, 0)
    assert mail_outbox.to(f"pat@{nursery.slug}.example.org")
    # Told (the notice was delivered after the sweep committed): no grace left.
    counts = _sweep(app, nursery.slug, grace_days=0)
    assert (counts.notices_queued, counts.parents_deactivated) == (0, 1)


def test_a_notice_is_void_when_a_sibling_is_linked(app, nursery, mail_outbox):
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    _sweep(app, nursery.slug)
    with inside(app, nursery.slug):
        links.link_parent(
            get_user(nursery.parent_id),
            get_child(nursery.other_child_id),
            "Mother",
            by=get_user(nursery.manager_id),
        )
        db.session.commit()
    _on(TODAY + timedelta(days=20))
    assert _sweep(app, nursery.slug).parents_deactivated == 0
    with inside(app, nursery.slug):
        assert db.session.get(ParentDeparture, nursery.parent_id) is None


def test_a_notice_is_void_when_a_leaving_date_is_corrected(app, nursery, mail_outbox):
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    _sweep(app, nursery.slug)
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY + timedelta(days=300))
    _on(TODAY + timedelta(days=20))
    assert _sweep(app, nursery.slug).parents_deactivated == 0


def test_a_parent_whose_child_comes_back_is_told_once_that_their_access_continues(
    app, nursery, mail_outbox
):
    """Told their access ends on a date, the parent is told (once, by email) that it does not
    when their child is back at the setting, and their home page no longer gives the date."""
    parent_email = f"pat@{nursery.slug}.example.org"
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    _sweep(app, nursery.slug)
    ends = f"{TODAY + timedelta(days=14):%-d %B %Y}"
    assert len(mail_outbox.to(parent_email)) == 1
    home = signed_in(app, nursery, "parent").get("/").text
    assert f"Your access ends on {ends}" in home

    _on(TODAY + timedelta(days=3))
    manager = signed_in(app, nursery, "manager")
    back = post_form(manager, f"/people/children/{nursery.child_id}/leaving", {"leaving_date": ""})
    assert back.status_code == 303, back.text
    [_, continues] = mail_outbox.to(parent_email)
    assert "continues" in str(continues["Subject"])
    assert "Ada" in text_of(continues) and ends not in text_of(continues)
    home = signed_in(app, nursery, "parent").get("/").text
    assert ends not in home and "Your access ends" not in home

    for day in (4, 20):  # the sweeps that follow tell nobody anything
        _on(TODAY + timedelta(days=day))
        assert _sweep(app, nursery.slug).parents_deactivated == 0
    assert len(mail_outbox.to(parent_email, timeout=0.5)) == 2


def test_a_parent_whose_access_has_ended_is_not_told_it_continues(app, nursery, mail_outbox):
    """Their child back after the grace period: the account stays closed (the manager
    reactivates it, with a fresh link), and no email says otherwise."""
    parent_email = f"pat@{nursery.slug}.example.org"
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    _sweep(app, nursery.slug)
    assert len(mail_outbox.to(parent_email)) == 1
    _on(TODAY + timedelta(days=14))
    assert _sweep(app, nursery.slug).parents_deactivated == 1
    manager = signed_in(app, nursery, "manager")
    back = post_form(manager, f"/people/children/{nursery.child_id}/leaving", {"leaving_date": ""})
    assert back.status_code == 303, back.text
    assert len(mail_outbox.to(parent_email, timeout=0.5)) == 1
    with inside(app, nursery.slug):
        assert get_user(nursery.parent_id).status is AccountStatus.DEACTIVATED


def test_an_invited_parent_who_never_signed_in_is_not_told_to_sign_in_as_usual(
    app, nursery, mail_outbox
):
    """They have no password to sign in with: both notices say how to set up the account
    (the invitation, or a new one from the setting), and give no sign-in link."""
    parent_email = f"pat@{nursery.slug}.example.org"
    with inside(app, nursery.slug):
        get_user(nursery.parent_id).status = AccountStatus.INVITED
        db.session.commit()
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    _sweep(app, nursery.slug)
    _on(TODAY + timedelta(days=3))
    manager = signed_in(app, nursery, "manager")
    back = post_form(manager, f"/people/children/{nursery.child_id}/leaving", {"leaving_date": ""})
    assert back.status_code == 303, back.text

    ending, continues = mail_outbox.to(parent_email)
    for notice in (ending, continues):
        for body in (text_of(notice), html_of(notice)):
            said = " ".join(body.split())
            assert "sign in as usual" not in said and "http" not in said
            assert "You have not set up your account yet" in said
            assert "ask Sunnyside Nursery to send you a new invitation" in said
    assert "set it up before 15 December 2026 with the invitation" in " ".join(
        text_of(ending).split()
    )


def test_the_sweep_covers_every_setting_and_one_failure_stops_none_of_the_others(
    app, nursery, make_setting, mail_outbox
):
    broken = make_setting()
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            text(
                f'ALTER TABLE "setting_{broken.slug.replace("-", "_")}".children '
                "RENAME COLUMN leaving_date TO left_on"
            )
        )
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    with inside(app, nursery.slug):
        leaver = add_user("Lee Leaver", f"lee@{nursery.slug}.example.org", Role.STAFF)
        db.session.add(StaffMember(user_id=leaver.id, leaving_date=TODAY))
        db.session.commit()
        leaver_id = leaver.id
    try:
        with app.app_context():
            report = deactivation_sweep()
    finally:
        with app.app_context(), db.engine.begin() as connection:
            connection.execute(
                text(
                    f'ALTER TABLE "setting_{broken.slug.replace("-", "_")}".children '
                    "RENAME COLUMN left_on TO leaving_date"
                )
            )
    assert broken.slug in report.errors and nursery.slug not in report.errors
    assert f"failed: {broken.slug}" in str(report)
    assert "staff deactivated" in str(report) and "notices queued to parents" in str(report)
    with inside(app, nursery.slug):
        assert get_user(leaver_id).status is AccountStatus.DEACTIVATED
        assert db.session.get(ParentDeparture, nursery.parent_id) is not None
    assert len(mail_outbox.to(f"pat@{nursery.slug}.example.org")) == 1
    with app.app_context():
        again = deactivation_sweep()
    assert again.succeeded, again.errors
    assert len(mail_outbox.to(f"pat@{nursery.slug}.example.org", timeout=0.2)) == 1


def test_sweeping_settings_in_turn_day_after_day(app, nursery, make_setting):
    """The same queries run for one setting after another on pooled connections.

    Each setting's schema has its own enum types, so a statement that psycopg
    prepared server-side for one setting cannot serve the next one ("cached
    plan must not change result type"); the engine must not auto-prepare
    (``connect_args={"prepare_threshold": None}``).
    """
    other = make_setting()
    for day in range(8):
        _on(TODAY + timedelta(days=day))
        for slug in (nursery.slug, other.slug):
            _sweep(app, slug)


def test_the_operator_runs_the_sweep_from_the_cli(app, nursery):
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    result = app.test_cli_runner().invoke(args=["jobs", "run", "deactivation-sweep"])
    assert result.exit_code == 0, result.output
    assert "deactivation-sweep:" in result.output and "notices queued to parents" in result.output
    with inside(app, nursery.slug):
        assert db.session.get(ParentDeparture, nursery.parent_id) is not None


def test_a_leaving_member_of_staff_is_refused_on_their_next_request(app, nursery):
    with inside(app, nursery.slug):
        leaving_on = TODAY + timedelta(days=1)
        db.session.add(StaffMember(user_id=nursery.staff_id, leaving_date=leaving_on))
        db.session.commit()
    clock.move_to(datetime(2026, 12, 1, 23, 50, tzinfo=UTC))
    staff = signed_in(app, nursery, "staff")
    clock.move_to(datetime(2026, 12, 2, 0, 5, tzinfo=UTC))
    assert staff.get("/people/children").status_code == 200  # still signed in after midnight
    _sweep(app, nursery.slug)
    assert is_signed_out(staff.get("/people/children"))
    assert is_signed_out(
        sign_in(client_for(app, nursery.slug), email_of(nursery, "staff"), PASSWORD, PIN)
    )


def test_a_parent_whose_last_child_left_can_sign_in_until_the_grace_period_ends(app, nursery):
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)
    _sweep(app, nursery.slug)

    def can_sign_in() -> bool:
        client = client_for(app, nursery.slug)
        return not is_signed_out(sign_in(client, email_of(nursery, "parent"), PASSWORD, PIN))

    _on(TODAY + timedelta(days=13))
    _sweep(app, nursery.slug)
    parent = signed_in(app, nursery, "parent")
    # During the grace period the parent still sees the child who left (the leaving pack).
    assert parent.get(f"/people/children/{nursery.child_id}").status_code == 200
    _on(TODAY + timedelta(days=14))
    assert can_sign_in()
    _sweep(app, nursery.slug)
    assert not can_sign_in()
    assert is_signed_out(parent.get("/people/children"))


def test_the_sweep_with_smtp_down_does_not_claim_the_parent_was_told(
    app, nursery, mail_outbox, smtp_down
):
    parent_email = email_of(nursery, "parent")
    _set_child_leaving(app, nursery.slug, nursery.child_id, TODAY)

    with app.app_context():
        summary = str(deactivation_sweep())
    assert "1 notices queued to parents" in summary and "told" not in summary
    with inside(app, nursery.slug):
        departure = db.session.get_one(ParentDeparture, nursery.parent_id)
        assert departure.notice_sent_at is None
        ends = departure.access_ends_on
    manager = signed_in(app, nursery, "manager")
    assert "their notice is waiting to be delivered" in manager.get("/").text

    _on(ends + timedelta(days=1))  # the grace period is over, but nobody told the parent
    assert _sweep(app, nursery.slug).parents_deactivated == 0
    with inside(app, nursery.slug):
        assert get_user(nursery.parent_id).status is AccountStatus.ACTIVE

    smtp_down()  # back up: the notice's next try goes through
    with inside(app, nursery.slug):
        assert deliver_due_messages()["sent"] == 1
        assert db.session.get_one(ParentDeparture, nursery.parent_id).notice_sent_at == clock.now()
    assert len(mail_outbox.to(parent_email)) == 1
    assert _sweep(app, nursery.slug).parents_deactivated == 1


@pytest.mark.parametrize(
    "zone",
    ["America/New_York", "Australia/Sydney", "Asia/Kolkata", "Pacific/Kiritimati", "Etc/GMT+12"],
)
def test_staff_leave_within_the_first_hour_of_their_leaving_date_in_the_settings_zone(
    app, nursery, zone
):
    """The beat's sweep, not only a manual one: a New York nursery's leaver kept access
    until 19:05 of their leaving date when the sweep ran once a day at 00:05 UTC."""
    manager = signed_in(app, nursery, "manager")
    saved = post_form(manager, "/settings/branding/", {"name": "Sunnyside", "time_zone": zone})
    assert saved.status_code == 303
    leaving_on = date(2026, 12, 5)
    with inside(app, nursery.slug):
        db.session.add(StaffMember(user_id=nursery.staff_id, leaving_date=leaving_on))
        db.session.commit()
    local_midnight = datetime(2026, 12, 5, tzinfo=ZoneInfo(zone)).astimezone(UTC)

    sweep_at = scheduled_time("deactivation-sweep", local_midnight + timedelta(hours=1))
    assert sweep_at is not None and sweep_at >= local_midnight, sweep_at
    clock.move_to(sweep_at)
    result = app.test_cli_runner().invoke(args=["jobs", "run", "deactivation-sweep"])

    assert result.exit_code == 0, result.output
    with inside(app, nursery.slug):
        assert get_user(nursery.staff_id).status is AccountStatus.DEACTIVATED


ZONES = ("Australia/Sydney", "Europe/London", "America/New_York")


def _setting_in(app, make_setting, zone: str, leaving: date) -> str:
    """A setting in ``zone`` with one child whose leaving date is ``leaving``."""
    slug = make_setting().slug
    with app.app_context():
        db.session.execute(update(Setting).where(Setting.slug == slug).values(time_zone=zone))
        db.session.commit()
        forget_cached()
    with inside(app, slug):
        manager = activate_first_manager()
        children.create_child(child_details(leaving_date=leaving), by=manager)
        db.session.commit()
    return slug


def _archived(app, slug: str) -> bool:
    with inside(app, slug):
        return all(child.is_archived for child in db.session.scalars(select(Child)))


def test_the_scheduled_sweep_ends_access_at_each_settings_own_midnight(app, make_setting):
    """One sweep job for every setting, run through the day: each setting's leaver leaves
    when that setting's day changes, once (run again, nothing more is done)."""
    leaving = TODAY + timedelta(days=1)  # 2 December; in December Sydney is UTC+11
    clock.move_to(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    slugs = {zone: _setting_in(app, make_setting, zone, leaving) for zone in ZONES}
    expected_left = {
        datetime(2026, 12, 1, 12, 5, tzinfo=UTC): set(),  # 23:05 in Sydney
        datetime(2026, 12, 1, 13, 5, tzinfo=UTC): {"Australia/Sydney"},
        datetime(2026, 12, 1, 23, 5, tzinfo=UTC): {"Australia/Sydney"},
        datetime(2026, 12, 2, 0, 5, tzinfo=UTC): {"Australia/Sydney", "Europe/London"},
        datetime(2026, 12, 2, 4, 5, tzinfo=UTC): {"Australia/Sydney", "Europe/London"},
        datetime(2026, 12, 2, 5, 5, tzinfo=UTC): set(ZONES),  # 00:05 in New York
    }
    for moment, left in expected_left.items():
        clock.move_to(moment)
        assert scheduled_time("deactivation-sweep", moment) == moment  # beat runs it now
        for _ in range(2):  # a doubled run changes nothing
            result = app.test_cli_runner().invoke(args=["jobs", "run", "deactivation-sweep"])
            assert result.exit_code == 0, result.output
        assert {zone for zone, slug in slugs.items() if _archived(app, slug)} == left, moment
    with app.app_context():
        runs = [
            run
            for run in db.session.scalars(select(JobRun).where(JobRun.job == "deactivation-sweep"))
            if set(run.counts or {}) & set(slugs.values())
        ]
    assert len(runs) == 2 * len(expected_left)
    assert {run.outcome for run in runs} == {Outcome.SUCCEEDED}
    archived_by_runs = {
        slug: sum(run.counts.get(slug, {}).get("children archived", 0) for run in runs)
        for slug in slugs.values()
    }
    assert archived_by_runs == dict.fromkeys(slugs.values(), 1)  # each leaver once
