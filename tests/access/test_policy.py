"""The access policy's rules where they are subtle: who sees which child, who may deactivate
whom. Every route is held to the policy by the access matrices (tests/security,
tests/journal/test_access.py, tests/people/test_access.py); these tests name the cases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask_login import AnonymousUserMixin

from app.access.policy import Action, can
from app.auth.models import Role, User
from app.extensions import db
from app.people.children import archive_child
from app.people.models import Child
from tests.helpers.journal import Journal
from tests.helpers.people import PASSWORD, PIN, add_user, inside


@pytest.fixture
def people(app: Flask, family: Journal) -> Iterator[Journal]:
    """Inside ``family``'s setting, with a second member of staff (nobody's key person)
    and child A archived: A has left, and parent A is in the grace period."""
    with inside(app, family.slug):
        add_user(
            "Kim Other", f"other@{family.slug}.example.org", Role.STAFF, password=PASSWORD, pin=PIN
        )
        db.session.flush()
        yield family


def _user(user_id: int) -> User:
    return db.session.get_one(User, user_id)


def _staff_not_key_person(people: Journal) -> User:
    return db.session.scalars(
        db.select(User).where(User.email == f"other@{people.slug}.example.org")
    ).one()


def _child(child_id: int) -> Child:
    return db.session.get_one(Child, child_id)


def _left(child_id: int) -> Child:
    child = _child(child_id)
    archive_child(child, by=None)
    db.session.flush()
    return child


def test_staff_see_a_child_who_is_here_whether_or_not_they_are_the_key_person(
    people: Journal,
) -> None:
    child_a = _child(people.child_a_id)
    assert child_a.key_person_id == people.staff_id
    assert can(_user(people.staff_id), Action.SEE_CHILD, child_a)
    assert can(_staff_not_key_person(people), Action.SEE_CHILD, child_a)


def test_staff_no_longer_see_a_child_who_has_left_but_a_manager_does(people: Journal) -> None:
    child_a = _left(people.child_a_id)
    assert not can(_user(people.staff_id), Action.SEE_CHILD, child_a)
    assert can(_user(people.manager_id), Action.SEE_CHILD, child_a)


def test_a_parent_sees_their_child_who_has_left_and_may_get_the_leaving_pack(
    people: Journal,
) -> None:
    parent_a, child_a = _user(people.parent_a_id), _left(people.child_a_id)
    assert can(parent_a, Action.SEE_CHILD, child_a)
    assert can(parent_a, Action.GET_LEAVING_PACKS, child_a)
    assert not can(_user(people.staff_id), Action.GET_LEAVING_PACKS, _child(people.child_b_id))


def test_a_parent_sees_only_children_linked_to_them(people: Journal) -> None:
    parent_a = _user(people.parent_a_id)
    child_b = _child(people.child_b_id)
    assert not can(parent_a, Action.SEE_CHILD, child_b)
    assert not can(parent_a, Action.SEND_HOME_OBSERVATIONS, child_b)
    assert can(parent_a, Action.SEND_HOME_OBSERVATIONS, _child(people.child_a_id))


def test_only_a_manager_sees_who_viewed_a_journal(people: Journal) -> None:
    child_a = _child(people.child_a_id)
    assert can(_user(people.manager_id), Action.SEE_ACCESS_LOG, child_a)
    assert not can(_user(people.staff_id), Action.SEE_ACCESS_LOG, child_a)
    assert not can(_user(people.parent_a_id), Action.SEE_ACCESS_LOG, child_a)


def test_a_manager_deactivates_others_but_not_themselves(people: Journal) -> None:
    manager, staff = _user(people.manager_id), _user(people.staff_id)
    assert can(manager, Action.DEACTIVATE_ACCOUNT, staff)
    assert not can(manager, Action.DEACTIVATE_ACCOUNT, manager)
    assert not can(staff, Action.DEACTIVATE_ACCOUNT, _user(people.parent_a_id))


def test_nobody_signed_in_may_do_anything(people: Journal) -> None:
    anonymous = AnonymousUserMixin()
    assert not any(can(anonymous, action) for action in Action)
    assert not can(anonymous, Action.SEE_CHILD, _child(people.child_a_id))


def test_a_misspelt_action_fails_loudly(people: Journal) -> None:
    with pytest.raises(ValueError):
        can(_user(people.manager_id), "manage_peopel")
