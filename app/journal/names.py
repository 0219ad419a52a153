"""The setting's children as the masking and the content rules need them: names, photo
consent, and which children a viewer knows by name whatever the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import select

from app.access.policy import Action, can
from app.auth.models import User
from app.extensions import db
from app.journal.masking import ChildName
from app.people import links
from app.people.models import Child


def name_of(child: Child) -> ChildName:
    return ChildName(child.id, child.first_name, child.last_name, child.preferred_name)


@dataclass(frozen=True)
class SettingChildren:
    """Every child of the setting (also those who left), as the masking and rules need them."""

    names: tuple[ChildName, ...]
    consenting: frozenset[int]  # children whose photos may appear in other families' views

    @cached_property
    def by_id(self) -> dict[int, ChildName]:
        return {name.id: name for name in self.names}


def setting_children() -> SettingChildren:
    rows = db.session.execute(
        select(
            Child.id, Child.first_name, Child.last_name, Child.preferred_name, Child.photo_consent
        ).order_by(Child.id)
    ).all()
    return SettingChildren(
        names=tuple(
            ChildName(row.id, row.first_name, row.last_name, row.preferred_name) for row in rows
        ),
        consenting=frozenset(row.id for row in rows if row.photo_consent),
    )


def family_of(viewer: User, child: Child) -> frozenset[int]:
    """Children whose names the viewer sees in ``child``'s journal whatever the policy:
    the child, and for a parent every child linked to them (a sibling is no stranger)."""
    if can(viewer, Action.READ_AS_FAMILY):
        return frozenset({child.id, *(linked.id for linked in links.children_of(viewer))})
    return frozenset({child.id})
