"""A manager ends someone's access at once, or brings a deactivated account back."""

from __future__ import annotations

from sqlalchemy import delete, update

from app import clock
from app.access.policy import Action, can, check
from app.auth import audit
from app.auth.models import STAFF_ROLES, AccountStatus, Role, User
from app.auth.operations import deactivate_user, reactivate_user
from app.extensions import db
from app.journal.models import ObservationEmails
from app.people.models import Child, ParentDeparture, ParentLink
from app.people.staff import set_staff_dates, staff_dates
from app.validation import InvalidInput

# A second tap of a button finds done what the first tap did: the manager is told so, not
# refused ("That didn't work" read as the first tap having failed).


def deactivated_already(user: User, *, by: User) -> bool:
    """Whether ``by``'s "Deactivate" finds the account deactivated, and they may end it."""
    return user.status is AccountStatus.DEACTIVATED and can(by, Action.DEACTIVATE_ACCOUNT, user)


def reactivated_already(user: User, *, by: User, role: Role | None = None) -> bool:
    """Whether ``by``'s "Reactivate" (with ``role``) finds the account brought back by them
    a moment ago: an account never deactivated is still refused."""
    return (
        user.status is not AccountStatus.DEACTIVATED
        and role in (None, user.role)
        and can(by, Action.MANAGE_PEOPLE)
        and audit.done_a_moment_ago("reactivated", actor=by, subject=user)
    )


def reactivate_account(user: User, *, by: User, role: Role | None = None) -> None:
    """A manager brings back a deactivated parent or member of staff: they are emailed a
    fresh activation link and choose a new password and PIN. A member of staff's past
    leaving date is cleared (or the sweep would end their access again the same night);
    a parent's notice that access ends is void. With another ``role`` (a former parent
    now on the staff, or a former member of staff now a parent: one account per email),
    the account comes back with it, what the old role gave ended (``_change_role``)."""
    check(by, Action.MANAGE_PEOPLE, refusal="Only a manager reactivates an account.")
    if user.status is not AccountStatus.DEACTIVATED:
        raise InvalidInput(f"{user.full_name}'s account is not deactivated.")
    if role is not None and role is not user.role:
        _change_role(user, role, by=by)
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


def _change_role(user: User, role: Role, *, by: User) -> None:
    """A deactivated account takes another role: a former parent's links to children and
    email choice end; a former member of staff is no child's key person any more."""
    former = user.role
    links_ended = 0
    if former is Role.PARENT:
        links_ended = db.session.execute(
            delete(ParentLink).where(ParentLink.parent_id == user.id)
        ).rowcount
        db.session.execute(delete(ObservationEmails).where(ObservationEmails.user_id == user.id))
    else:
        db.session.execute(
            update(Child).where(Child.key_person_id == user.id).values(key_person_id=None)
        )
    user.role = role
    db.session.flush()
    audit.record(
        "role_changed",
        actor=by,
        subject=user,
        role=role.value,
        former_role=former.value,
        links_ended=links_ended,
    )
