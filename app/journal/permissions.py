"""Who may do what in the journal, and which observations each person may reach.

Asked by every journal operation and page, so they all answer the same questions:

- a manager: every observation of the setting;
- staff: observations of the setting's active children, except other authors' drafts;
- a parent: in the journal of a child linked to them, the published observations about
  that child, and the home observations they sent themselves.
"""

from __future__ import annotations

from sqlalchemy import exists, or_
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import Role, User
from app.extensions import db
from app.journal.models import Observation, ObservationChild, ObservationKind, ObservationStatus
from app.people import children, links
from app.people.models import Child
from app.validation import InvalidInput

STAFF_ROLES = (Role.MANAGER, Role.STAFF)


class NotAllowed(InvalidInput):
    """The person may not do this to this observation (the page answers 403 or 409)."""


def is_staff(user: User) -> bool:
    return user.role in STAFF_ROLES


def may_edit(user: User, observation: Observation) -> bool:
    """A staff observation is changed by its author or a manager, as a draft or once
    published (a correction, kept as a revision); one waiting for review is not."""
    return (
        observation.kind is ObservationKind.STAFF
        and observation.status in (ObservationStatus.DRAFT, ObservationStatus.PUBLISHED)
        and (user.role is Role.MANAGER or observation.author_id == user.id)
    )


def may_publish(user: User, observation: Observation) -> bool:
    return observation.status is ObservationStatus.DRAFT and may_edit(user, observation)


def may_withdraw(user: User, observation: Observation) -> bool:
    return observation.status is ObservationStatus.PUBLISHED and may_edit(user, observation)


def may_delete(user: User, observation: Observation) -> bool:
    """A draft by whoever may edit it; anything else only by a manager (with a reason)."""
    if observation.status is ObservationStatus.DRAFT and may_edit(user, observation):
        return True
    return user.role is Role.MANAGER


def may_review(user: User, observation: Observation) -> bool:
    if observation.status is not ObservationStatus.IN_REVIEW:
        return False
    if observation.kind is ObservationKind.HOME:
        return is_staff(user)
    return user.role is Role.MANAGER


def check_editable(observation: Observation, by: User) -> None:
    if not may_edit(by, observation):
        raise NotAllowed(
            "Only a draft or a published observation can be changed, by its author or a manager."
        )


def check_reviewable(observation: Observation, by: User) -> None:
    if not may_review(by, observation):
        raise NotAllowed("This observation is not waiting for your review.")


def about_child(child_id: int) -> ColumnElement[bool]:
    return exists().where(
        ObservationChild.observation_id == Observation.id, ObservationChild.child_id == child_id
    )


def staff_may_see(user: User) -> list[ColumnElement[bool]]:
    if user.role is Role.MANAGER:
        return []
    about_active_child = exists().where(
        ObservationChild.observation_id == Observation.id,
        ObservationChild.child_id == Child.id,
        Child.archived_at.is_(None),
    )
    not_someone_elses_draft = or_(
        Observation.status != ObservationStatus.DRAFT, Observation.author_id == user.id
    )
    return [about_active_child, not_someone_elses_draft]


def in_journal(viewer: User, child: Child) -> list[ColumnElement[bool]]:
    published = Observation.status == ObservationStatus.PUBLISHED
    if viewer.role is Role.PARENT:
        own_home = (Observation.kind == ObservationKind.HOME) & (Observation.author_id == viewer.id)
        return [about_child(child.id), or_(published, own_home)]
    return [about_child(child.id), published]


def journal_child(viewer: User, child_id: int) -> Child | None:
    """The child, if ``viewer`` may open their journal: managers any child, staff the
    setting's active children, a parent only their linked children."""
    child = db.session.get(Child, child_id)
    if child is None:
        return None
    if viewer.role is Role.STAFF and child.is_archived:
        return None
    if viewer.role is Role.PARENT and not links.is_linked(viewer, child):
        return None
    return child


def journal_children(viewer: User) -> list[Child]:
    """The children whose journals ``viewer`` may open, for lists and filters."""
    if viewer.role is Role.PARENT:
        return links.children_of(viewer)
    if viewer.role is Role.MANAGER:
        return children.active_children() + children.archived_children()
    return children.active_children()
