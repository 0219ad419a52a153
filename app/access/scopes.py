"""Which rows a person may reach, as query conditions.

A rule that picks rows is written once, here, as SQLAlchemy conditions: lists and
look-ups by id add them to their query (a row outside them is simply not found, so a
page answers 404), and ``app.access.policy`` asks the same conditions of a single row.
"""

from __future__ import annotations

from sqlalchemy import exists
from sqlalchemy.sql.elements import ColumnElement

from app.auth.models import Role, User
from app.people.models import Child, ParentLink


def children_seen_by(viewer: User) -> list[ColumnElement[bool]]:
    """Children whose records and journals ``viewer`` may open: a manager every child of
    the setting, staff the children who have not left (key person or not), a parent the
    children linked to them, also once they have left (while the parent can still sign in:
    the grace period)."""
    if viewer.role is Role.MANAGER:
        return []
    if viewer.role is Role.STAFF:
        return [Child.archived_at.is_(None)]
    return [exists().where(ParentLink.parent_id == viewer.id, ParentLink.child_id == Child.id)]
