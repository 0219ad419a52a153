"""Who may change, publish, withdraw, delete and review an observation, and change a comment:
rules on one row as loaded, so they are tested on rows that are never saved."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.access.policy import Action, NotAllowed, can, check
from app.auth.models import AccountStatus, Role, User
from app.journal.models import (
    Comment,
    Observation,
    ObservationChild,
    ObservationKind,
    ObservationStatus,
)
from app.people.models import Child

MANAGER, AUTHOR, OTHER_STAFF, PARENT = 1, 2, 3, 4
ROLES = {MANAGER: Role.MANAGER, AUTHOR: Role.STAFF, OTHER_STAFF: Role.STAFF, PARENT: Role.PARENT}


def person(user_id: int) -> User:
    return User(id=user_id, role=ROLES[user_id], status=AccountStatus.ACTIVE)


def observation(
    status: ObservationStatus, kind: ObservationKind = ObservationKind.STAFF, author: int = AUTHOR
) -> Observation:
    return Observation(kind=kind, status=status, author_id=author)


def who_may(action: Action, target: object) -> set[int]:
    return {user_id for user_id in ROLES if can(person(user_id), action, target)}


DRAFT, PUBLISHED, IN_REVIEW = (
    ObservationStatus.DRAFT,
    ObservationStatus.PUBLISHED,
    ObservationStatus.IN_REVIEW,
)


@pytest.mark.parametrize(
    ("action", "status", "allowed"),
    [
        (Action.EDIT_OBSERVATION, DRAFT, {MANAGER, AUTHOR}),
        (Action.EDIT_OBSERVATION, PUBLISHED, {MANAGER, AUTHOR}),
        (Action.EDIT_OBSERVATION, IN_REVIEW, set()),  # held: nobody changes it meanwhile
        (Action.PUBLISH_OBSERVATION, DRAFT, {MANAGER, AUTHOR}),
        (Action.PUBLISH_OBSERVATION, PUBLISHED, set()),
        (Action.WITHDRAW_OBSERVATION, PUBLISHED, {MANAGER, AUTHOR}),
        (Action.WITHDRAW_OBSERVATION, DRAFT, set()),
        (Action.DELETE_OBSERVATION, DRAFT, {MANAGER, AUTHOR}),
        (Action.DELETE_OBSERVATION, PUBLISHED, {MANAGER}),  # families may have seen it
        (Action.DELETE_OBSERVATION, IN_REVIEW, {MANAGER}),
        (Action.REVIEW_OBSERVATIONS, IN_REVIEW, {MANAGER}),  # held by the content rules
        (Action.REVIEW_OBSERVATIONS, DRAFT, set()),
    ],
)
def test_a_staff_observation_is_handled_by_its_author_or_a_manager(
    action: Action, status: ObservationStatus, allowed: set[int]
) -> None:
    assert who_may(action, observation(status)) == allowed


def test_a_home_observation_is_reviewed_by_any_staff_and_changed_by_nobody() -> None:
    sent = observation(IN_REVIEW, ObservationKind.HOME, author=PARENT)
    assert who_may(Action.REVIEW_OBSERVATIONS, sent) == {MANAGER, AUTHOR, OTHER_STAFF}
    assert who_may(Action.EDIT_OBSERVATION, sent) == set()
    assert who_may(Action.DELETE_OBSERVATION, sent) == {MANAGER}


def test_only_its_author_changes_a_comment_and_only_while_it_is_shown() -> None:
    shown = Comment(author_id=PARENT)
    hidden = Comment(author_id=PARENT, hidden_at=datetime(2026, 12, 1), hidden_by_id=AUTHOR)
    assert who_may(Action.CHANGE_COMMENT, shown) == {PARENT}
    assert who_may(Action.CHANGE_COMMENT, hidden) == set()
    assert who_may(Action.HIDE_COMMENTS, None) == {MANAGER, AUTHOR, OTHER_STAFF}


def test_a_refused_operation_says_the_rules_reason() -> None:
    with pytest.raises(NotAllowed, match="Only a draft is published, by its author or a manager"):
        check(person(OTHER_STAFF), Action.PUBLISH_OBSERVATION, observation(DRAFT))
    check(person(AUTHOR), Action.PUBLISH_OBSERVATION, observation(DRAFT))  # no refusal


def _about_a_child_who_left(status: ObservationStatus) -> Observation:
    left = Child(id=7, archived_at=datetime(2026, 12, 1))
    return Observation(
        kind=ObservationKind.STAFF,
        status=status,
        author_id=AUTHOR,
        tags=[ObservationChild(child_id=7, child=left)],
    )


def test_a_closed_journal_is_corrected_by_a_manager_only_and_changes_no_other_way() -> None:
    closed = _about_a_child_who_left(PUBLISHED)
    assert who_may(Action.EDIT_OBSERVATION, closed) == {MANAGER}  # rectification
    assert who_may(Action.WITHDRAW_OBSERVATION, closed) == set()
    assert who_may(Action.DELETE_OBSERVATION, closed) == set()
    with pytest.raises(NotAllowed, match="has left: their journal is closed"):
        check(person(MANAGER), Action.DELETE_OBSERVATION, closed)
    held = _about_a_child_who_left(IN_REVIEW)  # never joined the journal: may go
    assert who_may(Action.DELETE_OBSERVATION, held) == {MANAGER}
    draft = _about_a_child_who_left(DRAFT)  # in no journal yet: its author takes the child off
    assert who_may(Action.EDIT_OBSERVATION, draft) == {MANAGER, AUTHOR}
