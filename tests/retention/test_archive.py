"""The archive page: who has left, when their records are purged, and who is on hold."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app import clock
from app.auth.models import AccountStatus, AuditEntry, User
from app.auth.operations import deactivate_user
from app.extensions import db
from app.people.models import Child
from app.retention.models import HOLD_REASON_LENGTH
from tenants.models import Setting
from tenants.registry import forget_cached
from tests.helpers.clients import post_form
from tests.helpers.journal import make_family, signed_in
from tests.helpers.people import get_user, inside
from tests.helpers.retention import archive, ledger_entries


def _row(page: str, name: str) -> str:
    match = re.search(rf"<tr>\s*<td><a [^>]*>{name}</a>.*?</tr>", page, re.S)
    assert match, f"{name} is not in the archive"
    return match.group(0)


def test_children_staff_and_parents_who_left_are_listed_with_their_purge_dates(app, family):
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        deactivate_user(get_user(family.staff_id), by=None, reason="left")
        deactivate_user(db.session.get_one(User, family.parent_b_id), by=None, reason="left")
        db.session.commit()
    page = signed_in(app, family, "manager").get("/retention/archive").text
    assert "1 December 2029" in _row(page, "Ada Okafor")  # 3 years after leaving
    assert "1 December 2032" in _row(page, "Sam Staff")  # 6 years
    assert "1 December 2027" in _row(page, "Robin Quince")  # 1 year after access ended
    assert "Bartholomew" not in page  # still at the setting
    # A date to come: not "Purged on", which reads as done.
    assert '<th scope="col">Purge date</th>' in page and "Purged on" not in page

    clock.advance(timedelta(days=366))
    page = signed_in(app, family, "manager").get("/retention/archive").text
    assert "(due)" in _row(page, "Robin Quince") and "(due)" not in _row(page, "Ada Okafor")


def test_the_day_an_account_ended_is_the_settings_own_day(app, family):
    """Deactivated at 9 a.m. on 2 December in Sydney (22:00 UTC on the 1st): they left on
    the 2nd, as the setting's pages say every other day, and their purge date follows."""
    with inside(app, family.slug):
        db.session.execute(
            update(Setting).where(Setting.slug == family.slug).values(time_zone="Australia/Sydney")
        )
        db.session.commit()
        forget_cached()
    clock.move_to(datetime(2026, 12, 1, 22, 0, tzinfo=UTC))
    with inside(app, family.slug):
        deactivate_user(get_user(family.staff_id), by=None, reason="left")
        deactivate_user(db.session.get_one(User, family.parent_b_id), by=None, reason="left")
        db.session.commit()
    page = signed_in(app, family, "manager").get("/retention/archive").text
    assert "2 December 2026" in _row(page, "Sam Staff") and "2 December 2032" in _row(
        page, "Sam Staff"
    )
    assert "2 December 2027" in _row(page, "Robin Quince")


def test_a_hold_shows_in_the_archive_and_is_audited(app, family):
    archive(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    post_form(
        manager, f"/retention/archive/child/{family.child_a_id}/hold", {"reason": "Complaint"}
    )
    assert "On hold since 1 December 2026" in _row(
        manager.get("/retention/archive").text, "Ada Okafor"
    )
    trail = manager.get("/retention/audit?action=retention.hold_placed").text
    assert "Ada Okafor" in trail


def test_a_person_still_here_has_no_archive_page(app, family):
    manager = signed_in(app, family, "manager")
    assert manager.get(f"/retention/archive/child/{family.child_b_id}").status_code == 404
    assert manager.get(f"/retention/archive/parent/{family.parent_a_id}").status_code == 404
    assert manager.get(f"/retention/archive/staff/{family.parent_a_id}").status_code == 404
    assert signed_in(app, family, "staff").get("/retention/archive").status_code == 403


def _renamed(app, family, first: str, last: str) -> None:
    with inside(app, family.slug):
        child = db.session.get_one(Child, family.child_a_id)
        child.first_name, child.last_name = first, last
        db.session.commit()


def _purge_typing(app, family, typed: str) -> int:
    manager = signed_in(app, family, "manager")
    page = f"/retention/archive/child/{family.child_a_id}"
    return post_form(manager, f"{page}/purge", {"confirm_name": typed}).status_code


def test_the_name_is_confirmed_as_a_phone_or_keyboard_types_it(app, family):
    _renamed(app, family, "Zoë", "O'Brien-Núñez")
    archive(app, family, family.child_a_id)
    for typed in ("Zoe OBrien-Nunez", "Zoë Brien-Núñez", "Sam Staff", "Zoë"):
        assert _purge_typing(app, family, typed) == 422, typed
    # A phone's curly apostrophe, no accents, a space for the hyphen, another case
    assert _purge_typing(app, family, "  zoe  O\u2019BRIEN nunez ") == 303
    with inside(app, family.slug):
        assert db.session.get(Child, family.child_a_id) is None


def test_a_name_with_letters_a_keyboard_lacks_or_in_a_script_without_spaces_is_confirmed(
    app, make_setting, frozen_clock
):
    """Typed on an English keyboard, Łukasz is Lukasz and Øberg is Oberg (as Zoë is Zoe);
    a name in a script written without spaces is typed without the space between its
    parts the page shows."""
    for first, last, typed in (
        ("Łukasz", "Nowak-Øberg", "Lukasz Nowak Oberg"),
        ("Þóra", "Ærøsdóttir", "thora aerosdottir"),
        ("小明", "王", "小明王"),
        ("さくら", "田中", " さくら 田中 "),
    ):
        family = make_family(app, make_setting().slug)
        _renamed(app, family, first, last)
        archive(app, family, family.child_a_id)
        assert _purge_typing(app, family, "Lukasz Nowak") == 422, first
        assert _purge_typing(app, family, typed) == 303, first


def test_purge_now_says_whose_parent_accounts_go_with_the_child(app, family):
    archive(app, family, family.child_a_id)
    page = signed_in(app, family, "manager").get(f"/retention/archive/child/{family.child_a_id}")
    said = " ".join(re.sub(r"<[^>]+>", " ", page.text).split()).replace("&#39;", "'")
    assert "Pat Okafor's account goes too: linked to no other child." in said
    assert "Robin Quince" not in said


def _said(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split()).replace("&#39;", "'")


def test_purge_now_says_what_goes_and_what_stays_for_each_kind_of_person(app, family):
    """A manager about to purge a member of staff or a parent reads what that purge does,
    not the child's (photos of them, group observations keeping the other children)."""
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        deactivate_user(get_user(family.staff_id), by=None, reason="left")
        deactivate_user(db.session.get_one(User, family.parent_b_id), by=None, reason="left")
        db.session.commit()
    manager = signed_in(app, family, "manager")
    child = _said(manager.get(f"/retention/archive/child/{family.child_a_id}").text)
    staff = _said(manager.get(f"/retention/archive/staff/{family.staff_id}").text)
    parent = _said(manager.get(f"/retention/archive/parent/{family.parent_b_id}").text)
    assert "group observations keep only the other children" in child
    for said in (staff, parent):
        assert "photos" not in said and "group observations" not in said
        assert "This cannot be undone." in said
    assert "Sam Staff's account is deleted for good" in staff
    assert "Observations they wrote stay in the children's journals" in staff
    assert "Robin Quince's account is deleted for good" in parent
    assert "links to children" in parent and "sent from home" in parent


def test_a_child_on_hold_past_their_date_is_not_listed_as_to_be_purged(app, family):
    archive(app, family, family.child_a_id)
    clock.advance(timedelta(days=4 * 366))
    manager = signed_in(app, family, "manager")
    post_form(manager, f"/retention/archive/child/{family.child_a_id}/hold", {"reason": "Claim"})
    dashboard = " ".join(re.sub(r"<[^>]+>", " ", manager.get("/").text).split())
    listed = dashboard.split("Records past their retention date", 1)[1][:300]
    assert "Ada Okafor" in listed and "on legal hold: kept until the hold is lifted" in listed


def test_why_a_hold_was_placed_and_why_it_was_lifted_are_in_the_audit_log(app, family):
    archive(app, family, family.child_a_id)
    manager = signed_in(app, family, "manager")
    page = f"/retention/archive/child/{family.child_a_id}"
    post_form(manager, f"{page}/hold", {"reason": "Claim from the Okafor family"})
    for refused, problem in (
        ("", "Give the reason for lifting the hold."),
        ("   ", "Give the reason for lifting the hold."),
        ("x" * (HOLD_REASON_LENGTH + 1), f"at most {HOLD_REASON_LENGTH} characters"),
    ):
        response = post_form(manager, f"{page}/lift", {"reason": refused})
        assert response.status_code == 422 and problem in response.text
        assert "Lift the legal hold" in response.text  # still on hold
    assert post_form(manager, f"{page}/lift", {"reason": "Claim  settled"}).status_code == 303
    assert "Place a legal hold" in manager.get(page).text

    placed = manager.get("/retention/audit?action=retention.hold_placed").text
    assert "Claim from the Okafor family" in placed
    lifted = manager.get("/retention/audit?action=retention.hold_lifted").text
    assert "Claim settled" in lifted and "Claim from" not in lifted
    again = post_form(manager, f"{page}/lift", {"reason": "Twice"})
    assert again.status_code == 422 and "not on hold" in again.text


def test_a_second_tap_of_purge_now_is_answered_as_the_first(app, family):
    """The first tap purged them; the second, arriving after, finds nobody: the manager
    is told their records are purged, not that the page does not exist."""
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        deactivate_user(get_user(family.staff_id), by=None, reason="left")
        db.session.commit()
    manager = signed_in(app, family, "manager")
    for kind, person_id, name in (
        ("child", family.child_a_id, "Ada Okafor"),
        ("staff", family.staff_id, "Sam Staff"),
    ):
        taps = [
            post_form(
                manager, f"/retention/archive/{kind}/{person_id}/purge", {"confirm_name": name}
            )
            for _ in range(2)
        ]
        assert [tap.status_code for tap in taps] == [303, 303], kind
        assert taps[1].headers["Location"] == taps[0].headers["Location"]
        assert "records are purged" in manager.get("/retention/archive").text
    assert len(ledger_entries(app, family.slug)) == 2

    clock.advance(timedelta(minutes=10))  # long after: not the same request sent twice
    again = post_form(
        manager, f"/retention/archive/child/{family.child_a_id}/purge", {"confirm_name": "Ada"}
    )
    assert again.status_code == 410 and "were purged on 1 December 2026" in again.text


def test_a_second_tap_of_placing_or_lifting_a_hold_is_answered_as_the_first(app, family):
    archive(app, family, family.child_a_id)
    with inside(app, family.slug):
        deactivate_user(get_user(family.staff_id), by=None, reason="left")
        db.session.commit()
    manager = signed_in(app, family, "manager")
    for kind, person_id in (("child", family.child_a_id), ("staff", family.staff_id)):
        page = f"/retention/archive/{kind}/{person_id}"
        for action, reason in (("hold", "Claim"), ("lift", "Settled")):
            taps = [post_form(manager, f"{page}/{action}", {"reason": reason}) for _ in range(2)]
            assert [tap.status_code for tap in taps] == [303, 303], (kind, action)
        assert "Place a legal hold" in manager.get(page).text
    with inside(app, family.slug):
        events = db.session.scalars(
            select(AuditEntry.event).where(AuditEntry.event.like("retention.hold%"))
        ).all()
    assert sorted(events) == ["retention.hold_lifted"] * 2 + ["retention.hold_placed"] * 2


def _said(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace("&#39;", "'")


def test_a_stale_archive_page_of_someone_purged_says_so_and_leads_back_to_the_archive(app, family):
    """Another manager (or the night's purge) went first: each button of the page left
    open, and the page itself, answer the site's error page saying when they were purged."""
    archive(app, family, family.child_a_id)
    page = f"/retention/archive/child/{family.child_a_id}"
    other_manager = signed_in(app, family, "manager")
    assert (
        post_form(other_manager, f"{page}/purge", {"confirm_name": "Ada Okafor"}).status_code == 303
    )
    clock.advance(timedelta(hours=3))

    manager = signed_in(app, family, "manager")
    for refused in (
        post_form(manager, f"{page}/purge", {"confirm_name": "Ada Okafor"}),
        post_form(manager, f"{page}/hold", {"reason": "Complaint"}),
        post_form(manager, f"{page}/lift", {"reason": "Settled"}),
        manager.get(page),
    ):
        assert refused.status_code == 410
        said = _said(refused.text)
        assert "These records were purged on 1 December 2026 by a manager" in said, said
        assert "Page not found" not in said and "That didn't work" not in said
        assert '<a href="/retention/archive">Back to the archive</a>' in refused.text
    assert len(ledger_entries(app, family.slug)) == 1


def test_a_stale_archive_form_for_someone_back_at_the_setting_says_nothing_was_done(app, family):
    with inside(app, family.slug):
        deactivate_user(get_user(family.staff_id), by=None, reason="left")
        db.session.commit()
    page = f"/retention/archive/staff/{family.staff_id}"
    manager = signed_in(app, family, "manager")
    assert manager.get(page).status_code == 200  # the manager opens it, then Sam comes back
    with inside(app, family.slug):
        get_user(family.staff_id).status = AccountStatus.ACTIVE
        db.session.commit()

    for refused in (
        post_form(manager, f"{page}/purge", {"confirm_name": "Sam Staff"}),
        post_form(manager, f"{page}/hold", {"reason": "Complaint"}),
    ):
        assert refused.status_code == 404
        said = _said(refused.text)
        assert (
            "Sam Staff is not in the archive: they are at the setting, so nothing was done" in said
        )
        assert "nothing was done" in said
        assert '<a href="/retention/archive">Back to the archive</a>' in refused.text
    with inside(app, family.slug):
        assert get_user(family.staff_id) is not None
