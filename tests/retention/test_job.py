"""The retention-purge job: what is past its period goes, legal holds stop it, twice is harmless."""

from __future__ import annotations

import gc
import re
from datetime import timedelta

from sqlalchemy import select, text

from app import clock
from app.auth.models import AuditEntry, User
from app.auth.operations import deactivate_user
from app.extensions import db
from app.journal.models import Comment, Observation
from app.people.children import archive_child, create_child
from app.people.models import Child
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, signed_in
from tests.helpers.people import child_details, inside, manager_of_setting
from tests.helpers.retention import archive, ledger_entries, media_files
from workers import retention_purge
from workers.jobs import run_job_now as _run_job_now

YEAR = timedelta(days=366)


def _purge_job(app) -> str:
    """Run the job now, in this process (a real worker runs the same function)."""
    with app.app_context():
        return _run_job_now("retention-purge")


def _exists(app, slug: str, model, row_id: int) -> bool:
    with inside(app, slug):
        return db.session.get(model, row_id) is not None


def test_the_job_purges_children_past_their_period_and_only_them(app, family):
    archive(app, family, family.child_a_id)
    clock.advance(timedelta(days=3 * 365))  # 30 November 2029: one day to go
    _purge_job(app)
    assert _exists(app, family.slug, Child, family.child_a_id)

    clock.advance(timedelta(days=1))
    assert "children purged" in _purge_job(app)  # (and in other tests' settings too)
    assert not _exists(app, family.slug, Child, family.child_a_id)
    assert not _exists(app, family.slug, User, family.parent_a_id)
    assert _exists(app, family.slug, Child, family.child_b_id)
    written = ledger_entries(app, family.slug)
    assert [e.rows["children"] for e in written if e.record_type == "child"] == [
        (family.child_a_id,)
    ]

    _purge_job(app)  # twice: nothing more to do, nothing written
    assert _exists(app, family.slug, Child, family.child_b_id)
    assert ledger_entries(app, family.slug) == written


def test_a_legal_hold_stops_the_job_and_lifting_it_lets_the_next_run_purge(app, family):
    archive(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    page = f"/retention/archive/child/{family.child_a_id}"
    placed = post_form(manager, f"{page}/hold", {"reason": "Claim from the family, 2026"})
    assert placed.status_code == 303
    assert "Claim from the family, 2026" in manager.get(page).text

    clock.advance(10 * YEAR)
    _purge_job(app)
    assert _exists(app, family.slug, Child, family.child_a_id)
    assert [e for e in ledger_entries(app, family.slug) if e.record_type == "child"] == []

    manager = signed_in(app, family, "manager")
    assert post_form(manager, f"{page}/lift", {"reason": "Settled"}).status_code == 303
    _purge_job(app)
    assert not _exists(app, family.slug, Child, family.child_a_id)
    with inside(app, family.slug):
        events = db.session.scalars(
            select(AuditEntry.event).where(AuditEntry.event.like("retention.%"))
        ).all()
    assert events == ["retention.purged"]  # the hold's entries named the child: purged too


def test_a_child_on_hold_cannot_be_purged_now_either(app, family):
    archive(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    page = f"/retention/archive/child/{family.child_a_id}"
    post_form(manager, f"{page}/hold", {"reason": "Police enquiry"})
    refused = post_form(manager, f"{page}/purge", {"confirm_name": "Ada Okafor"})
    assert refused.status_code == 422 and "legal hold" in refused.text
    assert _exists(app, family.slug, Child, family.child_a_id)


def test_a_hold_needs_a_reason(app, family):
    archive(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    refused = post_form(
        manager, f"/retention/archive/child/{family.child_a_id}/hold", {"reason": " "}
    )
    assert refused.status_code == 422
    assert "reason" in refused.text


def test_expired_logs_and_links_go_after_their_periods(app, family):
    clock.advance(2 * YEAR + timedelta(days=2))
    _purge_job(app)
    with inside(app, family.slug):
        assert db.session.scalars(select(AuditEntry)).all() == []
    [entry] = [e for e in ledger_entries(app, family.slug) if e.record_type == "audit_log"]
    assert entry.counts["audit_log"] > 0


def test_a_failure_in_one_setting_is_recorded_and_the_others_are_purged(app, family, make_setting):
    broken = make_setting()
    with inside(app, broken.slug):
        leaver = create_child(child_details(), by=manager_of_setting())
        archive_child(leaver, by=None)
        # The purge's query fails in this setting (put back below for later tests).
        db.session.execute(text("ALTER TABLE legal_holds RENAME TO legal_holds_away"))
        db.session.commit()
    archive(app, family, family.child_a_id)
    clock.advance(10 * YEAR)
    try:
        summary = _purge_job(app)
    finally:
        with inside(app, broken.slug):
            db.session.execute(text("ALTER TABLE legal_holds_away RENAME TO legal_holds"))
            db.session.commit()
    assert broken.slug in summary.split("failed:", 1)[1]
    assert not _exists(app, family.slug, Child, family.child_a_id)


def test_a_job_of_several_batches_removes_every_purged_childs_name_from_what_stays(
    app, family, monkeypatch
):
    """The names are found with one scan for the whole job (``Mentions``): a child of the
    last batch is scrubbed as surely as one of the first."""
    monkeypatch.setattr(retention_purge, "BATCH_SIZE", 1)
    with inside(app, family.slug):
        cleo = create_child(
            child_details(first_name="Cleo", last_name="Mensah"),
            by=manager_of_setting(),
        ).id
        db.session.commit()
    archive(app, family, cleo)
    archive(app, family, family.child_a_id)
    about_both = observe(
        app, family, [family.child_b_id], "Barty chased Cleo Mensah and Ada Okafor."
    )
    clock.advance(3 * YEAR)
    assert "children purged" in _purge_job(app)

    assert not _exists(app, family.slug, Child, cleo)
    assert not _exists(app, family.slug, Child, family.child_a_id)
    with inside(app, family.slug):
        assert db.session.get_one(Observation, about_both).text == (
            "Barty chased a friend and a friend."
        )
    children = [
        e.rows["children"] for e in ledger_entries(app, family.slug) if e.rows.get("children")
    ]
    assert sorted(children) == sorted([(cleo,), (family.child_a_id,)])


def test_a_suspended_setting_is_purged_on_time_too(app, family):
    """Retention does not pause while a setting is offline (its contract lapsed, say)."""
    observe(app, family, [family.child_a_id], "Ada.", photos=[(photo_bytes(), "", None)])
    photos = media_files(app, family.slug)
    archive(app, family, family.child_a_id)
    operator = app.test_cli_runner()
    assert operator.invoke(args=["tenants", "suspend", family.slug]).exit_code == 0
    clock.advance(4 * YEAR)
    _purge_job(app)
    with app.app_context():
        _run_job_now("file-deletions")
    assert not photos & media_files(app, family.slug)
    assert operator.invoke(args=["tenants", "resume", family.slug]).exit_code == 0
    assert not _exists(app, family.slug, Child, family.child_a_id)
    assert _exists(app, family.slug, Child, family.child_b_id)


def test_a_parent_on_legal_hold_stays_when_their_only_child_is_purged(app, family):
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        deactivate_user(db.session.get_one(User, family.parent_a_id), by=None, reason="left")
        db.session.commit()
    manager = signed_in(app, family, "manager")
    parent_page = f"/retention/archive/parent/{family.parent_a_id}"
    post_form(manager, f"{parent_page}/hold", {"reason": "Complaint from Pat"})
    clock.advance(4 * YEAR)
    _purge_job(app)
    assert not _exists(app, family.slug, Child, family.child_a_id)
    assert _exists(app, family.slug, User, family.parent_a_id)
    manager = signed_in(app, family, "manager")
    assert "Complaint from Pat" in manager.get(parent_page).text

    post_form(manager, f"{parent_page}/lift", {"reason": "Complaint withdrawn"})
    _purge_job(app)  # their own period (1 year after their access ended) is long past
    assert not _exists(app, family.slug, User, family.parent_a_id)


def test_a_hold_on_a_child_keeps_their_parents_account_their_link_and_comments(app, family):
    """A hold on a child (a claim from the family) keeps their journal whole: the comments
    their parent wrote in it and the link saying who that parent is are part of it, so
    the parent's own period does not purge them while the hold stands."""
    observation = observe(app, family, [family.child_a_id], "Ada painted.")
    parent = signed_in(app, family, "parent_a")
    path = f"/journal/children/{family.child_a_id}/observations/{observation}/comments"
    assert post_form(parent, path, {"body": "She told us all about it."}).status_code == 303
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        deactivate_user(db.session.get_one(User, family.parent_a_id), by=None, reason="left")
        db.session.commit()
    manager = signed_in(app, family, "manager")
    post_form(manager, f"/retention/archive/child/{family.child_a_id}/hold", {"reason": "Claim"})
    clock.advance(2 * YEAR)  # the parent's year is over; the child's three are not
    _purge_job(app)
    assert _exists(app, family.slug, User, family.parent_a_id)
    with inside(app, family.slug):
        assert db.session.scalars(select(Comment.body)).all() == ["She told us all about it."]

    manager = signed_in(app, family, "manager")
    parent_page = f"/retention/archive/parent/{family.parent_a_id}"
    listed = " ".join(re.sub(r"<[^>]+>", " ", manager.get("/retention/archive").text).split())
    assert "Kept while Ada Okafor's records are on legal hold" in listed.replace("&#39;", "'")
    refused = post_form(manager, f"{parent_page}/purge", {"confirm_name": "Pat Okafor"})
    assert refused.status_code == 422
    assert "Ada Okafor" in refused.text and "legal hold" in refused.text
    assert _exists(app, family.slug, User, family.parent_a_id)

    post_form(manager, f"/retention/archive/child/{family.child_a_id}/lift", {"reason": "Settled"})
    clock.advance(YEAR)
    _purge_job(app)
    assert not _exists(app, family.slug, Child, family.child_a_id)
    assert not _exists(app, family.slug, User, family.parent_a_id)


def test_a_hold_on_a_child_keeps_the_comments_a_purged_member_of_staff_wrote_to_them(app, family):
    """A member of staff's comments go with their purge, but not from a journal on hold:
    there they stay, no longer signed by them."""
    observation = observe(app, family, [family.child_a_id, family.child_b_id], "Ada and Barty.")
    staff = signed_in(app, family, "staff")
    for child in (family.child_a_id, family.child_b_id):
        path = f"/journal/children/{child}/observations/{observation}/comments"
        assert post_form(staff, path, {"body": f"Note for {child}."}).status_code == 303
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        deactivate_user(db.session.get_one(User, family.staff_id), by=None, reason="left")
        db.session.commit()
    manager = signed_in(app, family, "manager")
    post_form(manager, f"/retention/archive/child/{family.child_a_id}/hold", {"reason": "Claim"})
    purged = post_form(
        manager, f"/retention/archive/staff/{family.staff_id}/purge", {"confirm_name": "Sam Staff"}
    )
    assert purged.status_code == 303
    with inside(app, family.slug):
        left = db.session.execute(select(Comment.child_id, Comment.author_id)).all()
    assert left == [(family.child_a_id, None)]


def test_jobs_run_exits_1_when_a_setting_failed_so_a_script_sees_it(app, family):
    # A run recorded as started later (another process's, or a test's with the clock
    # moved on) is not this run: its outcome must not stand for this one's.
    real_now = clock.now()
    clock.advance(3 * YEAR)
    _purge_job(app)
    clock.move_to(real_now)
    with inside(app, family.slug):
        db.session.execute(text("ALTER TABLE legal_holds RENAME TO legal_holds_away"))
        db.session.commit()
    try:
        result = app.test_cli_runner().invoke(args=["jobs", "run", "retention-purge"])
    finally:
        with inside(app, family.slug):
            db.session.execute(text("ALTER TABLE legal_holds_away RENAME TO legal_holds"))
            db.session.commit()
    assert result.exit_code == 1
    assert f"failed: {family.slug}" in result.output


def test_a_job_that_stops_on_an_error_says_so_in_one_line(app, family, tmp_path, monkeypatch):
    not_a_folder = tmp_path / "backups"
    not_a_folder.write_text("a file where the backups should go")
    monkeypatch.setattr(app.config["LJ"], "BACKUP_DIR", not_a_folder)
    result = app.test_cli_runner().invoke(args=["jobs", "run", "backup"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "backup failed:" in result.output and "see `jobs status`" in result.output


def test_a_purged_childs_name_with_a_plural_ending_goes_from_an_observation_not_about_them(
    app, family
):
    """The job's scan finds "the Okafors" and "Adas" (the masking's matcher reads them as
    Ada Okafor's names) in an observation where Ada is not tagged, and scrubs it."""
    archive(app, family, family.child_a_id)
    waved = observe(app, family, [family.child_b_id], "Barty waved at the Okafors and Adas.")
    clock.advance(3 * YEAR)
    assert "children purged" in _purge_job(app)

    with inside(app, family.slug):
        scrubbed = db.session.get_one(Observation, waved).text
    assert "Okafor" not in scrubbed
    assert "Ada" not in scrubbed
    assert scrubbed.startswith("Barty waved at the ")


def test_the_job_pauses_the_cyclic_collector_only_while_it_purges_a_setting(
    app, family, monkeypatch
):
    """The collector is off while a setting is purged (its walks of the purge's many
    objects cost a fifth of the job), and on again afterwards, also after a failure."""
    seen = []
    purge_children = retention_purge.purge_children

    def purge_and_look(*args, **kwargs):
        seen.append(gc.isenabled())
        return purge_children(*args, **kwargs)

    monkeypatch.setattr(retention_purge, "purge_children", purge_and_look)
    archive(app, family, family.child_a_id)
    clock.advance(10 * YEAR)
    _purge_job(app)
    assert seen and not any(seen)
    assert gc.isenabled()

    def failing(*args, **kwargs):
        raise RuntimeError("a batch fails")

    monkeypatch.setattr(retention_purge, "purge_children", failing)
    archive(app, family, family.child_b_id)
    _purge_job(app)
    assert gc.isenabled()
