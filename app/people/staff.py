"""Managers and staff: invited with their employment dates; a leaving date that has
come ends their access.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select

from app import clock
from app.auth import audit
from app.auth.models import STAFF_ROLES, AccountStatus, Role, User
from app.auth.operations import (
    DeactivatedAccount,
    deactivate_user,
    invite_user,
    refuse_email_in_use,
)
from app.extensions import db
from app.people.input_rules import (
    USER_NAME_LENGTH,
    check_leaving_date,
    checked_email,
    checked_in_range,
    checked_name,
)
from app.people.models import StaffMember
from app.validation import InvalidField, InvalidInput


def add_staff(
    full_name: str,
    email: str,
    role: Role,
    *,
    start_date: date | None,
    leaving_date: date | None,
    by: User,
) -> User:
    """Invite a manager or member of staff and record their employment dates."""
    if role not in STAFF_ROLES:
        raise InvalidField("role", "Choose manager or staff.")
    full_name = checked_name(full_name, "full_name", "Full name", USER_NAME_LENGTH)
    email = checked_email(email)
    check_staff_dates(start_date, leaving_date)
    if leaving_date is not None and leaving_date <= clock.today():
        # They could never sign in: the invitation would only reach someone who has left.
        raise InvalidField(
            "leaving_date",
            "Their leaving date has already come, so they could never sign in: "
            "leave it empty or choose a later day.",
        )
    try:
        refuse_email_in_use(email)
    except DeactivatedAccount:
        raise  # the page offers to bring that account back instead
    except InvalidInput as error:
        raise InvalidField("email", str(error)) from error
    user = invite_user(full_name, email, role, by)
    db.session.add(StaffMember(user_id=user.id))
    db.session.flush()
    set_staff_dates(user, start_date, leaving_date, by=by)
    return user


def check_staff_dates(start_date: date | None, leaving_date: date | None) -> None:
    if start_date is not None:
        checked_in_range(start_date, "start_date", "Start date")
    check_leaving_date(leaving_date, start_date)


def staff_dates(user: User) -> StaffMember | None:
    """The user's employment record, if one has been made."""
    return db.session.get(StaffMember, user.id)


def staff_record(user: User) -> StaffMember:
    """The user's employment record, created empty for staff invited elsewhere."""
    record = db.session.get(StaffMember, user.id)
    if record is None:
        record = StaffMember(user_id=user.id)
        db.session.add(record)
        db.session.flush()
    return record


def set_staff_dates(
    user: User, start_date: date | None, leaving_date: date | None, *, by: User | None
) -> None:
    """Record a member of staff's dates; a leaving date that has come deactivates them now."""
    if user.role not in STAFF_ROLES:
        raise InvalidInput(f"{user.full_name} is not a member of staff.")
    check_staff_dates(start_date, leaving_date)
    leaving_now = leaving_date is not None and leaving_date <= clock.today()
    if leaving_now and by is not None and by.id == user.id:
        raise InvalidField("leaving_date", "You cannot end your own access.")
    if user.role is Role.MANAGER and leaving_date is not None:
        _refuse_leaving_no_manager(user, leaving_date)
    record = staff_record(user)
    changed_leaving = record.leaving_date != leaving_date
    record.start_date, record.leaving_date = start_date, leaving_date
    db.session.flush()
    if changed_leaving:
        audit.record(
            "staff.leaving_date_set",
            actor=by,
            subject=user,
            leaving_date=leaving_date.isoformat() if leaving_date else None,
        )
    if leaving_now and user.status is not AccountStatus.DEACTIVATED:
        deactivate_user(user, by=by, reason="leaving date")


def _refuse_leaving_no_manager(manager: User, leaving_date: date) -> None:
    """``InvalidField`` unless another active manager stays past ``leaving_date``: once
    the sweep ended the last manager's access, nobody could run the setting or bring a
    manager back (no operator command does)."""
    staying = db.session.scalar(
        select(User.id)
        .outerjoin(StaffMember, StaffMember.user_id == User.id)
        .where(
            User.role == Role.MANAGER,
            User.id != manager.id,
            User.status == AccountStatus.ACTIVE,
            or_(StaffMember.leaving_date.is_(None), StaffMember.leaving_date > leaving_date),
        )
        .limit(1)
    )
    if staying is None:
        raise InvalidField(
            "leaving_date",
            f"{manager.full_name} is the only manager staying past that day: invite another "
            "manager (who has set up their account) first, or nobody could run the setting.",
        )


def staff() -> list[tuple[User, StaffMember | None]]:
    """Managers and staff with their employment records, by name."""
    rows = db.session.execute(
        select(User, StaffMember)
        .outerjoin(StaffMember, StaffMember.user_id == User.id)
        .where(User.role.in_(STAFF_ROLES))
        .order_by(User.full_name, User.id)
    )
    return [(user, record) for user, record in rows]


def key_people() -> list[User]:
    """Who can be a child's key person: managers and staff who are not deactivated."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.role.in_(STAFF_ROLES), User.status != AccountStatus.DEACTIVATED)
            .order_by(User.full_name, User.id)
        )
    )


def staff_due_to_leave() -> list[User]:
    """Managers and staff whose leaving date has come and who can still sign in."""
    return list(
        db.session.scalars(
            select(User)
            .join(StaffMember, StaffMember.user_id == User.id)
            .where(
                StaffMember.leaving_date <= clock.today(),
                User.status != AccountStatus.DEACTIVATED,
            )
            .order_by(User.id)
        )
    )
