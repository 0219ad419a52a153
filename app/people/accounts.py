"""A manager ends someone's access at once, or brings a deactivated account back."""

from __future__ import annotations

from sqlalchemy import delete

from app import clock
from app.access.policy import Action, check
from app.auth.models import STAFF_ROLES, AccountStatus, User
from app.auth.operations import deactivate_user, reactivate_user
from app.extensions import db
from app.people.models import ParentDeparture
from app.people.staff import set_staff_dates, staff_dates
from app.validation import InvalidInput


def reactivate_account(user: User, *, by: User) -> None:
    """A manager brings back a deactivated parent or member of staff: they are emailed a
    fresh activation link and choose a new password and PIN. A member of staff's past
    leaving date is cleared (or the sweep would end their access again the same night);
    a parent's notice that access ends is void."""
    check(by, Action.MANAGE_PEOPLE, refusal="Only a manager reactivates an account.")
    reactivate_user(user, by=by)
    if user.role in STAFF_ROLES:
        record = staff_dates(user)
        if record is not None and record.leaving_date and record.leaving_date <= clock.today():
            set_staff_dates(user, record.start_date, None, by=by)
    db.session.execute(delete(ParentDeparture).where(ParentDeparture.user_id == user.id))
    db.session.flush()


def deactivate_now(user: User, *, by: User, reason: str) -> None:
    """A manager ends someone's access at once (their sessions end with it)."""
    check(by, Action.DEACTIVATE_ACCOUNT, user)
    if user.status is AccountStatus.DEACTIVATED:
        raise InvalidInput(f"{user.full_name}'s account is already deactivated.")
    deactivate_user(user, by=by, reason=reason)
