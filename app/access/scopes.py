"""Which rows a person may reach, as query conditions.

A rule that picks rows is written once, here, as SQLAlchemy conditions: lists and
look-ups by id add them to their query (a row outside them is simply not found, so a
page answers 404), and ``app.access.policy`` asks the same conditions of a single row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, false, or_, select
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import Role
from app.auth.viewer import Reader
from app.extensions import db
from app.journal.models import Observation, ObservationChild, ObservationKind, ObservationStatus
from app.people.models import Child, ParentLink


def children_seen_by(viewer: Reader) -> list[ColumnElement[bool]]:
    """Children whose records and journals ``viewer`` may open: a manager every child of
    the setting, staff the children who have not left (key person or not), a parent the
    children linked to them, also once they have left (while the parent can still sign in:
    the grace period)."""
    if viewer.role is Role.MANAGER:
        return []
    if viewer.role is Role.STAFF:
        return [Child.archived_at.is_(None)]
    return [exists().where(ParentLink.parent_id == viewer.id, ParentLink.child_id == Child.id)]


def visible_child(viewer: Reader, child_id: int) -> Child | None:
    """The child with this id, if ``viewer`` may open their record and journal (else None,
    which a page answers with 404: a guessed id says nothing about who exists)."""
    return db.session.scalar(select(Child).where(Child.id == child_id, *children_seen_by(viewer)))


def about_child(child_id: int) -> ColumnElement[bool]:
    """Observations ``child_id`` is tagged in."""
    return exists().where(
        ObservationChild.observation_id == Observation.id, ObservationChild.child_id == child_id
    )


def observations_in_full_for(viewer: Reader) -> list[ColumnElement[bool]]:
    """Observations ``viewer`` may open in full, every name shown (staff's own pages): a
    manager every one; staff those about a child who has not left, but not another
    author's draft; a parent none (a family reads a child's journal instead)."""
    if viewer.role is Role.MANAGER:
        return []
    if viewer.role is Role.PARENT:
        return [false()]
    about_a_child_here = exists().where(
        ObservationChild.observation_id == Observation.id,
        ObservationChild.child_id == Child.id,
        Child.archived_at.is_(None),
    )
    not_someone_elses_draft = or_(
        Observation.status != ObservationStatus.DRAFT, Observation.author_id == viewer.id
    )
    return [about_a_child_here, not_someone_elses_draft]


def observations_in_journal(viewer: Reader, child: Child) -> list[ColumnElement[bool]]:
    """What ``child``'s journal shows ``viewer`` (who may open it): the published
    observations about the child, and for a parent also the home observations they sent
    themselves, whatever became of them."""
    shown = _shown_in_journal(viewer, Observation.status, Observation.kind, Observation.author_id)
    return [about_child(child.id), shown]


def journal_entries(viewer: Reader, child: Child) -> list[ColumnElement[bool]]:
    """The same rule as ``observations_in_journal``, on ``child``'s tag rows alone
    (``ObservationChild``, which carries its observation's status and kind): what a
    journal page is picked from without reading the observations. Only a home
    observation, for a parent, has its author looked up."""
    author = (
        select(Observation.author_id)
        .where(Observation.id == ObservationChild.observation_id)
        .correlate_except(Observation)  # the tag row's own, even where observations are joined
        .scalar_subquery()
    )
    shown = _shown_in_journal(viewer, ObservationChild.status, ObservationChild.kind, author)
    return [ObservationChild.child_id == child.id, shown]


def _shown_in_journal(
    viewer: Reader, status: Any, kind: Any, author_id: Any
) -> ColumnElement[bool]:
    """The rule itself, on an observation's status, kind and author (wherever they are
    read from): published, or for a parent a home observation of their own."""
    published = status == ObservationStatus.PUBLISHED
    if viewer.role is Role.PARENT:
        return or_(published, (kind == ObservationKind.HOME) & (author_id == viewer.id))
    return published
