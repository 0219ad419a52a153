"""The people rules, called as a page, the CLI or a job would call them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app import clock
from app.auth.models import AccountStatus, AuditEntry, Role
from app.auth.second_factor import factor_policy
from app.extensions import db
from app.people import accounts, children, links, needs_attention, staff
from app.people.models import Child, StaffMember
from app.validation import InvalidField, InvalidInput
from tests.helpers.clients import post_form
from tests.helpers.people import (
    TODAY,
    add_user,
    child_details,
    get_child,
    get_user,
    inside,
    links_of,
    signed_in,
)


def _audit(event: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.event == event)))


def test_names_are_trimmed_and_normalised_and_real_names_are_welcome(app, nursery):
    with inside(app, nursery.slug):
        manager = get_user(nursery.manager_id)
        child = children.create_child(
            child_details(
                first_name="  Zoe\u0301  ",  # e + combining acute: stored as one character
                last_name="O'Brien-Nguyễn",
                preferred_name=" 小明 ",
                date_of_birth=date(2024, 1, 5),
            ),
            by=manager,
        )
        assert (child.first_name, child.last_name) == ("Zoé", "O'Brien-Nguyễn")
        assert child.preferred_name == "小明" and child.known_as == "小明"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_name": "   "}, "first_name", "First name is required"),
        ({"last_name": "<script>alert(1)</script>"}, "last_name", "may contain"),
        ({"first_name": "A\u0000da"}, "first_name", "cannot be shown"),
        ({"first_name": "x" * 100_000}, "first_name", "at most 60"),
        ({"date_of_birth": TODAY + timedelta(days=1)}, "date_of_birth", "in the future"),
        ({"date_of_birth": date(1, 1, 1)}, "date_of_birth", "between"),
        ({"start_date": date(2020, 1, 1)}, "start_date", "before the date of birth"),
        ({"leaving_date": date(2025, 8, 31)}, "leaving_date", "before the start date"),
        ({"key_person_id": 999_999}, "key_person_id", "key person"),
    ],
)
def test_bad_child_details_are_refused_and_nothing_is_saved(
    app, nursery, overrides, field, message
):
    with inside(app, nursery.slug):
        before = db.session.query(Child).count()
        with pytest.raises(InvalidField, match=message) as refused:
            children.create_child(child_details(**overrides), by=get_user(nursery.manager_id))
        assert refused.value.field == field
        db.session.rollback()
        assert db.session.query(Child).count() == before


def test_a_parent_cannot_be_a_key_person(app, nursery):
    with inside(app, nursery.slug), pytest.raises(InvalidField, match="key person"):
        children.create_child(
            child_details(first_name="Cy", key_person_id=nursery.parent_id),
            by=get_user(nursery.manager_id),
        )


def test_same_names_and_birthday_need_confirmation(app, nursery):
    with inside(app, nursery.slug):
        manager = get_user(nursery.manager_id)
        twin = child_details(first_name="ADA", last_name="okafor")
        with pytest.raises(children.PossibleDuplicate) as warned:
            children.create_child(twin, by=manager)
        assert warned.value.existing.id == nursery.child_id
        confirmed = children.create_child(twin, by=manager, confirm_duplicate=True)
        db.session.commit()
        assert confirmed.id != nursery.child_id


def test_editing_a_child_to_match_another_needs_confirmation(app, nursery):
    with inside(app, nursery.slug):
        manager = get_user(nursery.manager_id)
        other = get_child(nursery.other_child_id)
        with pytest.raises(children.PossibleDuplicate):
            children.update_child(other, child_details(), by=manager)
        db.session.rollback()
        # Saving a child unchanged is not a duplicate of itself.
        children.update_child(get_child(nursery.child_id), child_details(), by=manager)


def test_a_leaving_date_in_the_future_keeps_the_child_active(app, nursery):
    with inside(app, nursery.slug):
        child = get_child(nursery.child_id)
        children.set_child_leaving_date(
            child, TODAY + timedelta(days=3), by=get_user(nursery.manager_id)
        )
        assert not child.is_archived
        assert nursery.child_id in [c.id for c in children.active_children()]


def test_a_leaving_date_that_has_come_archives_at_once_and_a_correction_restores(app, nursery):
    with inside(app, nursery.slug):
        manager = get_user(nursery.manager_id)
        child = get_child(nursery.child_id)
        children.set_child_leaving_date(child, TODAY, by=manager)
        assert child.is_archived
        assert nursery.child_id not in [c.id for c in children.active_children()]
        assert nursery.child_id in [c.id for c in children.archived_children()]
        children.set_child_leaving_date(child, None, by=manager)
        assert not child.is_archived
        events = [e.event for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert events[-4:] == [
            "child.leaving_date_set",
            "child.archived",
            "child.leaving_date_set",
            "child.restored",
        ]


def test_archiving_now_sets_the_leaving_date_to_today(app, nursery):
    with inside(app, nursery.slug):
        child = get_child(nursery.other_child_id)
        children.archive_child(child, by=get_user(nursery.manager_id))
        assert child.leaving_date == TODAY and child.is_archived


def test_linking_and_unlinking_are_audited_with_who_and_when(app, nursery):
    with inside(app, nursery.slug):
        manager, parent = get_user(nursery.manager_id), get_user(nursery.parent_id)
        other = get_child(nursery.other_child_id)
        link = links.link_parent(parent, other, "  Step-mum ", by=manager)
        assert (link.relationship, link.confirmed_by_id) == ("Step-mum", manager.id)
        assert link.confirmed_at.date() == TODAY
        links.unlink_parent(parent, other, by=manager)
        db.session.commit()
        linked, unlinked = _audit("parent.linked")[-1], _audit("parent.unlinked")[-1]
        for entry in (linked, unlinked):
            assert (entry.actor_id, entry.subject_id) == (manager.id, parent.id)
            assert entry.detail["child_id"] == other.id
            assert entry.at.date() == TODAY
        assert links_of(parent.id) == [nursery.child_id]


def test_several_parents_per_child_and_several_children_per_parent(app, nursery):
    with inside(app, nursery.slug):
        manager = get_user(nursery.manager_id)
        parent = get_user(nursery.parent_id)
        second = add_user("Kim Carer", f"kim@{nursery.slug}.example.org", Role.PARENT)
        links.link_parent(second, get_child(nursery.child_id), "Father", by=manager)
        links.link_parent(parent, get_child(nursery.other_child_id), "Mother", by=manager)
        assert sorted(links_of(parent.id)) == sorted([nursery.child_id, nursery.other_child_id])
        assert len(links.links_of_child(get_child(nursery.child_id))) == 2


@pytest.mark.parametrize(
    ("who", "child", "message"),
    [
        ("staff", "other", "not a parent"),
        ("parent", "mine", "already linked"),
        ("parent", "left", "has left"),
    ],
)
def test_links_that_make_no_sense_are_refused(app, nursery, who, child, message):
    with inside(app, nursery.slug):
        manager = get_user(nursery.manager_id)
        user = get_user(nursery.staff_id if who == "staff" else nursery.parent_id)
        target = get_child(nursery.child_id if child == "mine" else nursery.other_child_id)
        if child == "left":
            children.archive_child(target, by=manager)
        with pytest.raises(InvalidInput, match=message):
            links.link_parent(user, target, "Mother", by=manager)


def test_staff_whose_leaving_date_has_come_are_deactivated_at_once(app, nursery):
    with inside(app, nursery.slug):
        member = get_user(nursery.staff_id)
        staff.set_staff_dates(member, date(2024, 1, 8), TODAY, by=get_user(nursery.manager_id))
        db.session.commit()
        assert member.status is AccountStatus.DEACTIVATED
        assert db.session.get_one(StaffMember, member.id).leaving_date == TODAY


def test_a_manager_cannot_deactivate_themselves(app, nursery):
    with inside(app, nursery.slug):
        manager = get_user(nursery.manager_id)
        with pytest.raises(InvalidInput, match="your own"):
            accounts.deactivate_now(manager, by=manager, reason="test")
        with pytest.raises(InvalidInput, match="your own"):
            staff.set_staff_dates(manager, None, TODAY, by=manager)


def test_deactivate_now_ends_access_and_is_audited(app, nursery):
    with inside(app, nursery.slug):
        manager, parent = get_user(nursery.manager_id), get_user(nursery.parent_id)
        accounts.deactivate_now(parent, by=manager, reason="asked by the family")
        db.session.commit()
        assert parent.status is AccountStatus.DEACTIVATED
        entry = _audit("deactivated")[-1]
        assert (entry.actor_id, entry.subject_id) == (manager.id, parent.id)
        with pytest.raises(InvalidInput, match="already"):
            accounts.deactivate_now(parent, by=manager, reason="again")


def test_needs_attention_lists_what_someone_should_look_at(app, nursery):
    with inside(app, nursery.slug):
        manager = get_user(nursery.manager_id)
        leaver = add_user("Lee Leaver", f"lee@{nursery.slug}.example.org", Role.STAFF)
        db.session.add(StaffMember(user_id=leaver.id, leaving_date=TODAY - timedelta(days=2)))
        waiting = links.add_parent("Wyn Waiting", f"wyn@{nursery.slug}.example.org", by=manager)
        lapsed = links.add_parent("Lou Lapsed", f"lou@{nursery.slug}.example.org", by=manager)
        db.session.flush()
        from app.auth.models import OneTimeLink

        for link in db.session.scalars(select(OneTimeLink).where(OneTimeLink.user_id == lapsed.id)):
            link.expires_at = link.created_at - timedelta(seconds=1)
        children.archive_child(get_child(nursery.child_id), by=manager)
        db.session.flush()

        found = needs_attention.needs_attention(factor_policy())
        assert [(u.id, d) for u, d in found.staff_past_leaving] == [
            (leaver.id, TODAY - timedelta(days=2))
        ]
        assert [p.parent.id for p in found.parents_of_leavers] == [nursery.parent_id]
        assert lapsed.id in [u.id for u in found.expired_invitations]
        assert waiting.id not in [u.id for u in found.expired_invitations]
        assert [u.id for u in found.parents_not_activated] == [waiting.id]
        assert [c.id for c in found.children_without_parents] == [nursery.other_child_id]
        assert found.count == 1 + 1 + len(found.expired_invitations) + 1 + 1


def test_parents_see_only_their_linked_children(app, nursery):
    with inside(app, nursery.slug):
        parent = get_user(nursery.parent_id)
        assert [c.id for c in links.children_of(parent)] == [nursery.child_id]


def test_leaving_dates_come_on_the_settings_own_day(app, nursery):
    manager = signed_in(app, nursery, "manager")
    data = {"name": "Sunnyside Nursery", "time_zone": "America/New_York"}
    assert post_form(manager, "/settings/branding/", data).status_code == 303
    clock.move_to(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))  # 30 Nov, 22:00 in New York
    with inside(app, nursery.slug):
        member = get_user(nursery.staff_id)
        staff.set_staff_dates(member, date(2024, 1, 8), TODAY, by=get_user(nursery.manager_id))
        db.session.commit()
        assert member.status is AccountStatus.ACTIVE  # their last day has not come in New York
        child = get_child(nursery.other_child_id)
        children.archive_child(child, by=get_user(nursery.manager_id))
        assert child.leaving_date == date(2026, 11, 30)
