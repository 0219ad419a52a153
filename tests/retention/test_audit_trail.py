"""The audit log viewer: both logs as one list, filtered by person, action and date, paged."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import select, update

from app import clock
from app.auth import audit
from app.auth.models import AccountStatus, AuditEntry, Role
from app.auth.operations import correct_invited_email, deactivate_user
from app.extensions import db
from app.journal.comments import hide_comment
from app.journal.models import Comment
from app.paging import PAGE_SIZE
from app.retention.schedule import RULES
from tenants.models import Setting
from tenants.registry import forget_cached
from tests.helpers.clients import client_for, post_form, sign_in
from tests.helpers.journal import comment_from_each_family, observe, signed_in
from tests.helpers.people import add_user, get_user, inside
from tests.helpers.retention import archive


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<tr>.*?</tr>", body, re.S)


def test_sign_ins_failures_and_journal_views_are_listed_newest_first(app, family):
    signed_in(app, family, "parent_a").get(f"/journal/children/{family.child_a_id}")
    manager = signed_in(app, family, "manager")
    page = manager.get("/retention/audit").text
    rows = _rows(page)
    assert any("Signed in" in row and "Mina Manager" in row for row in rows)
    assert any("Journal viewed" in row and "Ada Okafor" in row for row in rows)
    assert any("Signed in" in row and "Pat Okafor" in row for row in rows)


def test_filters_by_person_action_and_date(app, family):
    signed_in(app, family, "parent_a")
    manager = signed_in(app, family, "manager")
    only_pat = _rows(manager.get(f"/retention/audit?person={family.parent_a_id}").text)
    assert only_pat and all("Pat Okafor" in row for row in only_pat)

    sign_ins = _rows(manager.get("/retention/audit?action=signed_in").text)
    assert len(sign_ins) == 2 and all("Signed in" in row for row in sign_ins)

    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    assert _rows(manager.get(f"/retention/audit?date_from={tomorrow}").text) == []
    today = clock.today().isoformat()
    assert len(_rows(manager.get(f"/retention/audit?date_from={today}&date_to={today}").text))


def test_the_log_is_paged(app, family):
    with inside(app, family.slug):
        for _ in range(PAGE_SIZE + 5):
            db.session.add(AuditEntry(at=clock.now(), event="test.filler", detail={}))
        db.session.commit()
    manager = signed_in(app, family, "manager")
    first = manager.get("/retention/audit?action=test.filler").text
    assert len(_rows(first)) == PAGE_SIZE and 'rel="next"' in first
    second = manager.get("/retention/audit?action=test.filler&page=2").text
    assert len(_rows(second)) == 5


def test_only_managers_read_it_and_bad_filters_are_a_400(app, family):
    assert signed_in(app, family, "staff").get("/retention/audit").status_code == 403
    manager = signed_in(app, family, "manager")
    assert manager.get("/retention/audit?page=abc").status_code == 400
    assert manager.get("/retention/audit?person=999999").status_code == 400
    assert manager.get("/retention/audit?date_from=2026-13-40").status_code == 400


def test_the_last_day_a_date_field_takes_is_a_filter_like_any_other(app, family):
    manager = signed_in(app, family, "manager")
    today = clock.today().isoformat()
    page = manager.get(f"/retention/audit?date_from={today}&date_to=9999-12-31")
    assert page.status_code == 200 and _rows(page.text)


def test_audit_details_name_people_by_id_never_by_email(app, family):
    with inside(app, family.slug):
        invited = add_user("Ivy Invited", "ivy@example.org", Role.PARENT, AccountStatus.INVITED)
        correct_invited_email(invited, "ivy.new@example.org", get_user(family.manager_id))
        db.session.commit()
        details = db.session.scalars(select(AuditEntry.detail)).all()
    assert not any("@" in str(detail) for detail in details)


def test_a_bad_filter_shows_the_filters_again_with_what_is_wrong(app, family):
    manager = signed_in(app, family, "manager")
    bad_date = manager.get("/retention/audit?date_from=2026-13-40")
    assert bad_date.status_code == 400
    assert 'name="date_from"' in bad_date.text and "Not a valid date" in bad_date.text
    reversed_dates = manager.get("/retention/audit?date_from=2026-12-02&date_to=2026-11-01")
    assert reversed_dates.status_code == 400
    assert "The first day is after the last" in reversed_dates.text
    assert _rows(reversed_dates.text) == []


def test_filters_by_child_shows_what_was_done_to_and_seen_of_their_records(app, family):
    signed_in(app, family, "parent_a").get(f"/journal/children/{family.child_a_id}")
    signed_in(app, family, "parent_b").get(f"/journal/children/{family.child_b_id}")
    manager = signed_in(app, family, "manager")
    page = manager.get("/retention/audit").text
    assert f'<option value="child-{family.child_a_id}">Ada Okafor (child)</option>' in page
    about_ada = _rows(manager.get(f"/retention/audit?person=child-{family.child_a_id}").text)
    assert any("Journal viewed" in row for row in about_ada)
    assert any("Child added" in row for row in about_ada)
    assert all("Ada Okafor" in row for row in about_ada)
    assert not any("Bartholomew" in row for row in about_ada)
    assert manager.get("/retention/audit?person=child-999999").status_code == 400


def test_filtering_by_a_child_shows_what_was_done_to_their_observations_and_comments(app, family):
    """Who wrote, changed, published or hid something in a child's journal is what a
    manager asks the log about a child: those entries name an observation or a comment,
    not the child, and are found by the observations and comments that are the child's."""
    ada_only = observe(app, family, [family.child_a_id], "Ada painted.")
    both = observe(app, family, [family.child_a_id, family.child_b_id], "Ada and Barty ran.")
    barty_only = observe(app, family, [family.child_b_id], "Barty climbed.")
    comment_from_each_family(app, family, both)
    with inside(app, family.slug):
        staff = get_user(family.staff_id)
        for comment in db.session.scalars(select(Comment)):
            hide_comment(comment, by=staff)
        db.session.commit()
    manager = signed_in(app, family, "manager")

    def found(choice: str) -> list[str]:
        return [_said(row) for row in _rows(manager.get(f"/retention/audit?person={choice}").text)]

    about_ada = found(f"child-{family.child_a_id}")
    written = [row for row in about_ada if "Observation written" in row]
    assert len(written) == 2  # her own and the group's, not Barty's alone
    assert sum("Observation published" in row for row in about_ada) == 2
    hidden = [row for row in about_ada if "Comment hidden" in row]
    assert len(hidden) == 1  # the comment in her view of the group observation, not Barty's
    about_barty = found(f"child-{family.child_b_id}")
    assert sum("Observation written" in row for row in about_barty) == 2
    assert sum("Comment hidden" in row for row in about_barty) == 1
    # A view of the group observation in Barty's journal is not a view of Ada's.
    signed_in(app, family, "parent_b").get(
        f"/journal/children/{family.child_b_id}/observations/{both}"
    )
    assert not any("Observation viewed" in row for row in found(f"child-{family.child_a_id}"))
    assert ada_only and barty_only


def test_times_and_days_are_the_settings_own(app, family):
    with inside(app, family.slug):
        db.session.execute(
            update(Setting).where(Setting.slug == family.slug).values(time_zone="Pacific/Honolulu")
        )
        db.session.commit()
        forget_cached()
    manager = signed_in(app, family, "manager")  # 09:00 UTC on 1 December: 23:00 on the 30th
    page = manager.get("/retention/audit?action=signed_in").text
    assert "30 Nov 2026 23:00:00 HST" in page and "Times are UTC" not in page
    assert _rows(manager.get("/retention/audit?action=signed_in&date_to=2026-11-30").text)
    assert not _rows(manager.get("/retention/audit?action=signed_in&date_from=2026-12-01").text)


def test_holds_and_exports_about_someone_are_found_by_them_and_go_with_their_purge(app, family):
    with inside(app, family.slug):
        deactivate_user(get_user(family.staff_id), by=None, reason="left")
        db.session.commit()
    archive(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    for kind, person in (("staff", family.staff_id), ("child", family.child_a_id)):
        page = f"/retention/archive/{kind}/{person}"
        post_form(manager, f"{page}/hold", {"reason": "A question from the family"})
        post_form(manager, f"{page}/lift", {"reason": "Answered"})
        assert (
            post_form(manager, f"/retention/subject-access/{kind}/{person}", {}).status_code == 200
        )
    for choice, name in ((family.staff_id, "Sam Staff"), (f"child-{family.child_a_id}", "Ada")):
        found = _rows(manager.get(f"/retention/audit?person={choice}").text)
        for action in ("Legal hold placed", "Legal hold lifted", "Subject access export"):
            assert any(action in row and name in row for row in found), (action, name)

    post_form(
        manager, f"/retention/archive/staff/{family.staff_id}/purge", {"confirm_name": "Sam Staff"}
    )
    post_form(
        manager,
        f"/retention/archive/child/{family.child_a_id}/purge",
        {"confirm_name": "Ada Okafor"},
    )
    with inside(app, family.slug):
        entries = db.session.scalars(select(AuditEntry)).all()
    left = [
        e.event
        for e in entries
        if e.event != "retention.purged"
        and (
            e.subject_id == family.staff_id
            or e.detail.get("user_id") == family.staff_id
            or e.detail.get("person") in (family.staff_id, family.child_a_id)
            or e.detail.get("child_id") == family.child_a_id
        )
    ]
    assert left == []


def test_a_page_past_the_last_says_so_and_leads_back(app, family):
    manager = signed_in(app, family, "manager")
    past = manager.get("/retention/audit?action=signed_in&page=50")
    assert past.status_code == 200 and _rows(past.text) == []
    assert "Page 50 is past the last page (1)" in past.text
    assert 'href="/retention/audit?action=signed_in&amp;page=1"' in past.text


def test_actions_are_in_words_in_the_log_and_its_filter_the_codes_kept_for_filtering(app, family):
    manager = signed_in(app, family, "manager")
    form = {rule.key: str(rule.default) for rule in RULES}
    form.update(retention_years_after_leaving="2", confirm="yes")
    post_form(manager, "/retention/", form)
    page = manager.get("/retention/audit?action=retention.period_changed").text
    (row,) = _rows(page)
    said = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", row).split()))
    changed = "Retention period changed: a child's record and journal after they leave, 3 → 2 years"
    assert changed in said
    assert "retention_years_after_leaving" not in row and "old:" not in row
    chosen = re.search(r'<option[^>]*value="retention.period_changed"[^>]*>([^<]*)<', page)
    assert chosen and "selected" in chosen.group(0) and chosen[1] == "Retention period changed"
    assert '<option value="signed_in">Signed in</option>' in page


def _said(row: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", row).split()))


def test_details_are_in_words_with_names_and_what_is_gone_said(app, family):
    kept = observe(app, family, [family.child_a_id], "Ada built a tower.")
    gone = observe(app, family, [family.child_b_id], "Barty ran.")
    manager = signed_in(app, family, "manager")
    deleting = post_form(manager, f"/journal/observations/{gone}/delete", {"reason": "Wrong child"})
    assert deleting.status_code == 303, deleting.text
    with inside(app, family.slug):
        audit.record("child.updated", actor=get_user(family.manager_id), child_id=999999)
        db.session.commit()

    [deleted] = _rows(manager.get("/retention/audit?action=observation.deleted").text)
    said = _said(deleted)
    assert "Observation: (deleted)" in said and "Reason: Wrong child" in said
    assert "Status: published" in said and "Photos: 0" in said
    published = [
        _said(row)
        for row in _rows(manager.get("/retention/audit?action=observation.published").text)
    ]
    assert any("Observation: of 1 December 2026, Ada Okafor" in row for row in published)
    assert any("Observation: (deleted)" in row for row in published)
    updated = [
        _said(row) for row in _rows(manager.get("/retention/audit?action=child.updated").text)
    ]
    assert any("(purged)" in row for row in updated)
    page = manager.get("/retention/audit").text
    for key in ("observation_id", "child_id", "reason:", "photos:", "status:"):
        assert key not in page, key
    assert kept


def test_coded_details_read_as_words_a_manager_understands(app, family):
    """How someone signed in, why a sign-in failed and why records went are recorded as
    codes for filtering; the page says them in words."""
    stranger = client_for(app, family.slug)
    sign_in(stranger, "nobody@example.org")
    sign_in(stranger, family.email("parent-b"), "a wrong password")
    archive(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    purge = f"/retention/archive/child/{family.child_a_id}/purge"
    assert post_form(manager, purge, {"confirm_name": "Ada Okafor"}).status_code == 303

    said = [_said(row) for row in _rows(manager.get("/retention/audit").text)]
    assert any("Signed in with: password and PIN" in row for row in said)
    assert any("Reason: no account has this email address" in row for row in said)
    assert any("Reason: wrong password or PIN" in row for row in said)
    assert any(
        "Reason: purged now by a manager" in row and "Record: a child" in row for row in said
    )
    assert not [row for row in said if re.search(r": [a-z]+_[a-z_]+\b", row)]
