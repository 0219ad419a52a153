"""The setting's children as the masking and the content rules need them: names, photo
consent, and which children a viewer knows by name whatever the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Row, func, select
from sqlalchemy.sql.expression import ColumnElement

from app.access.policy import Action, can, found_seen_child
from app.access.scopes import children_seen_by
from app.auth.viewer import Reader
from app.extensions import db
from app.journal.masking import ChildName
from app.people.models import Child, ParentLink


def name_of(child: Child) -> ChildName:
    return ChildName(
        child.id,
        child.first_name,
        child.last_name,
        child.preferred_name,
        tuple(child.former_names or ()),
    )


@dataclass(frozen=True)
class SettingChildren:
    """Every child of the setting (also those who left), as the masking and rules need them."""

    names: tuple[ChildName, ...]
    consenting: frozenset[int]  # children whose photos may appear in other families' views

    @cached_property
    def by_id(self) -> dict[int, ChildName]:
        return {name.id: name for name in self.names}


# Every child's names and consent, as the masking reads them (the journal page reads them too).
NAME_COLUMNS = (
    Child.id,
    Child.first_name,
    Child.last_name,
    Child.preferred_name,
    Child.former_names,
    Child.photo_consent,
)


def setting_children() -> SettingChildren:
    rows = db.session.execute(select(*NAME_COLUMNS).order_by(Child.id)).all()
    return SettingChildren(
        names=tuple(map(_name_in, rows)),
        consenting=frozenset(row.id for row in rows if row.photo_consent),
    )


def names_of_children(*where: ColumnElement[bool]) -> list[ChildName]:
    """The names of the children the conditions select, read as columns (a purge reads
    thousands: loading them as objects cost it more than reading them)."""
    return list(map(_name_in, db.session.execute(select(*NAME_COLUMNS).where(*where))))


def _name_in(row: Row) -> ChildName:
    return ChildName(
        row.id, row.first_name, row.last_name, row.preferred_name, tuple(row.former_names or ())
    )


@dataclass(frozen=True)
class OpenedJournal:
    """A child's journal a viewer may open, and the children whose names they see in it
    whatever the group-name policy: the child, and for one who reads as a family (a
    parent) every child linked to them (a sibling is no stranger)."""

    child: Child
    family: frozenset[int]


def open_journal(viewer: Reader, child_id: int) -> OpenedJournal | None:
    """The child's journal, if ``viewer`` may open it (``children_seen_by``, as
    ``visible_child`` asks), with its family: one query, which for a parent reads their
    linked children too."""
    query = select(Child).where(Child.id == child_id, *children_seen_by(viewer))
    if can(viewer, Action.READ_AS_FAMILY):
        linked = (
            select(func.array_agg(ParentLink.child_id))
            .where(ParentLink.parent_id == viewer.id)
            .scalar_subquery()
        )
        row = db.session.execute(query.add_columns(linked)).first()
        if row is None:
            return None
        child, linked_ids = row
        family = frozenset({child.id, *(linked_ids or ())})
    else:
        child = db.session.scalar(query)
        if child is None:
            return None
        family = frozenset({child.id})
    found_seen_child(viewer, child)
    return OpenedJournal(child, family)


def family_of(viewer: Reader, child: Child) -> frozenset[int]:
    """Children whose names the viewer sees in ``child``'s journal whatever the policy
    (see ``open_journal``; none but the child if it is not theirs to open)."""
    opened = open_journal(viewer, child.id)
    return frozenset({child.id}) if opened is None else opened.family
