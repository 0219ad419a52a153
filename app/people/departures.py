"""A parent whose last child left keeps access for the setting's grace period, told the
day it ends (``app.people.sweep``); when a child of theirs is at the setting again (a
leaving date corrected, a sibling linked), that notice is void and they are told so."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, Select, select

from app.auth.models import AccountStatus, User
from app.auth.viewer import Reader
from app.extensions import db
from app.mail import queue_email
from app.people.models import Child, ParentDeparture, ParentLink
from tenants.binding import current_setting
from tenants.routing import setting_url


def access_ends_on(parent: Reader) -> date | None:
    """The day the parent was told their access ends, while that still holds."""
    departure = db.session.get(ParentDeparture, parent.id)
    return departure.access_ends_on if departure is not None else None


def _children_here(parent_id: int | ColumnElement[int]) -> Select[tuple[Child]]:
    return (
        select(Child)
        .join(ParentLink, ParentLink.child_id == Child.id)
        .where(ParentLink.parent_id == parent_id, Child.archived_at.is_(None))
        .order_by(Child.first_name, Child.id)
    )


def tell_returning_parents() -> int:
    """Void the notice of each parent with a child at the setting again, and email those
    whose access has not ended yet (once: the notice goes with it) that it continues;
    returns how many were told. An account closed already stays closed: a manager
    reactivates it."""
    returning = db.session.scalars(
        select(ParentDeparture).where(_children_here(ParentDeparture.user_id).exists())
    ).all()
    told = [d for d in returning if d.user.status is not AccountStatus.DEACTIVATED]
    for departure in told:
        _tell_access_continues(departure.user)
    for departure in returning:
        db.session.delete(departure)
    db.session.flush()
    return len(told)


def _tell_access_continues(parent: User) -> None:
    setting = current_setting()
    queue_email(
        parent.email,
        f"Your access to {setting.name}'s learning journals continues",
        "parent_access_continues",
        user_id=parent.id,
        parent=parent,
        children=[child.known_as for child in db.session.scalars(_children_here(parent.id))],
        setting_name=setting.name,
        invited=parent.status is AccountStatus.INVITED,  # no password yet to sign in with
        link=setting_url(setting.slug, "/"),
    )
