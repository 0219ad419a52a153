"""The people policies a manager sets: how long a parent keeps access after their last
child leaves (how long records are kept is the retention schedule's).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from app.auth import audit
from app.auth.models import User
from app.extensions import db
from app.validation import InvalidField
from tenants.binding import current_setting
from tenants.models import Setting

GRACE_DAYS_LIMITS = (0, 90)


@dataclass(frozen=True)
class PeoplePolicies:
    """The setting's rule for when a parent's access ends after their last child leaves.

    How long records are kept after someone leaves is the retention schedule's
    (``app.retention.schedule``).
    """

    parent_grace_days: int


def people_policies() -> PeoplePolicies:
    """The current setting's people policies."""
    grace_days = db.session.scalar(
        select(Setting.parent_grace_days).where(Setting.id == current_setting().id)
    )
    return PeoplePolicies(grace_days)


def _within(value: int, limits: tuple[int, int], field: str, message: str) -> int:
    low, high = limits
    if not low <= value <= high:
        raise InvalidField(field, message.format(low=low, high=high))
    return value


def save_people_policies(policies: PeoplePolicies, *, by: User) -> None:
    """A manager sets the parents' grace period."""
    grace_days = _within(
        policies.parent_grace_days,
        GRACE_DAYS_LIMITS,
        "parent_grace_days",
        "The grace period must be between {low} and {high} days.",
    )
    db.session.execute(
        update(Setting)
        .where(Setting.id == current_setting().id)
        .values(parent_grace_days=grace_days)
    )
    audit.record("people.policies_changed", actor=by, parent_grace_days=grace_days)
    db.session.flush()
