"""Children: added, corrected, leaving and archived, and the lists of them.

Every operation checks what it is given, changes rows and flushes; the caller (the request,
the sweep per setting, the CLI) commits once, so a refusal or a failure leaves nothing
half-saved. Each change to a leaving date is audited with who made it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import func, select

from app import clock
from app.auth import audit
from app.auth.models import STAFF_ROLES, AccountStatus, User
from app.extensions import db
from app.people.departures import tell_returning_parents
from app.people.input_rules import check_leaving_date, checked_in_range, checked_name
from app.people.models import ROOM_LENGTH, Child
from app.validation import InvalidField


class PossibleDuplicate(Exception):
    """Another child has the same names and date of birth; save only once confirmed."""

    def __init__(self, existing: Child) -> None:
        super().__init__(f"child {existing.id} has the same names and date of birth")
        self.existing = existing


@dataclass(frozen=True)
class ChildDetails:
    """What a manager types about a child (checked by ``checked_child_details``)."""

    first_name: str
    last_name: str
    date_of_birth: date
    start_date: date
    room: str
    preferred_name: str = ""
    key_person_id: int | None = None
    photo_consent: bool = False
    leaving_date: date | None = None


def checked_child_details(details: ChildDetails) -> ChildDetails:
    """The details cleaned (names trimmed, NFC) and checked, or ``InvalidField``."""
    preferred = details.preferred_name.strip()
    cleaned = replace(
        details,
        first_name=checked_name(details.first_name, "first_name", "First name"),
        last_name=checked_name(details.last_name, "last_name", "Last name"),
        preferred_name=checked_name(preferred, "preferred_name", "Preferred name")
        if preferred
        else "",
        room=checked_name(details.room, "room", "Room", ROOM_LENGTH),
    )
    checked_in_range(cleaned.date_of_birth, "date_of_birth", "Date of birth")
    if cleaned.date_of_birth > clock.today():
        raise InvalidField("date_of_birth", "Date of birth cannot be in the future.")
    checked_in_range(cleaned.start_date, "start_date", "Start date")
    if cleaned.start_date < cleaned.date_of_birth:
        raise InvalidField("start_date", "Start date cannot be before the date of birth.")
    check_leaving_date(cleaned.leaving_date, cleaned.start_date)
    if cleaned.key_person_id is not None and _usable_key_person(cleaned.key_person_id) is None:
        raise InvalidField("key_person_id", "Choose the key person from the list of staff.")
    return cleaned


def _usable_key_person(user_id: int) -> User | None:
    return db.session.scalar(
        select(User).where(
            User.id == user_id,
            User.role.in_(STAFF_ROLES),
            User.status != AccountStatus.DEACTIVATED,
        )
    )


def possible_duplicate(details: ChildDetails, *, other_than: int | None = None) -> Child | None:
    """A child (active or archived) with the same names and date of birth, ignoring case."""
    query = select(Child).where(
        func.lower(Child.first_name) == details.first_name.lower(),
        func.lower(Child.last_name) == details.last_name.lower(),
        Child.date_of_birth == details.date_of_birth,
    )
    if other_than is not None:
        query = query.where(Child.id != other_than)
    return db.session.scalars(query.order_by(Child.id).limit(1)).first()


def create_child(details: ChildDetails, *, by: User, confirm_duplicate: bool = False) -> Child:
    """Add a child; ``PossibleDuplicate`` unless a look-alike is absent or confirmed."""
    details = checked_child_details(details)
    existing = possible_duplicate(details)
    if existing is not None and not confirm_duplicate:
        raise PossibleDuplicate(existing)
    child = Child(
        first_name=details.first_name,
        last_name=details.last_name,
        preferred_name=details.preferred_name or None,
        date_of_birth=details.date_of_birth,
        start_date=details.start_date,
        room=details.room,
        key_person_id=details.key_person_id,
        photo_consent=details.photo_consent,
    )
    db.session.add(child)
    db.session.flush()
    audit.record("child.created", actor=by, child_id=child.id)
    _apply_leaving_date(child, details.leaving_date, by=by)
    return child


def update_child(
    child: Child, details: ChildDetails, *, by: User, confirm_duplicate: bool = False
) -> None:
    """Correct a child's details, with the same checks as when they were added."""
    details = checked_child_details(details)
    existing = possible_duplicate(details, other_than=child.id)
    if existing is not None and not confirm_duplicate:
        raise PossibleDuplicate(existing)
    _keep_former_names(child, details)
    child.first_name = details.first_name
    child.last_name = details.last_name
    child.preferred_name = details.preferred_name or None
    child.date_of_birth = details.date_of_birth
    child.start_date = details.start_date
    child.room = details.room
    child.key_person_id = details.key_person_id
    child.photo_consent = details.photo_consent
    db.session.flush()
    audit.record("child.updated", actor=by, child_id=child.id)
    _apply_leaving_date(child, details.leaving_date, by=by)


def _keep_former_names(child: Child, details: ChildDetails) -> None:
    """Remember each full name the correction replaces ("Barty Quince"; the masking takes
    its parts too): observations written before it still use the old names, and other
    families must not read them."""

    def full_names(first: str, last: str, preferred: str | None) -> list[str]:
        return [f"{given} {last}" for given in (first, preferred) if given]

    new = full_names(details.first_name, details.last_name, details.preferred_name)
    old = full_names(child.first_name, child.last_name, child.preferred_name)
    replaced = [name for name in old if name not in new]
    child.former_names = list(dict.fromkeys([*(child.former_names or ()), *replaced]))


def set_child_leaving_date(child: Child, leaving_date: date | None, *, by: User) -> None:
    """Set (or clear) the day a child leaves; a date that has come archives them now."""
    _apply_leaving_date(child, leaving_date, by=by)


def _apply_leaving_date(child: Child, leaving_date: date | None, *, by: User | None) -> None:
    check_leaving_date(leaving_date, child.start_date)
    if leaving_date == child.leaving_date:
        return
    child.leaving_date = leaving_date
    audit.record(
        "child.leaving_date_set",
        actor=by,
        child_id=child.id,
        leaving_date=leaving_date.isoformat() if leaving_date else None,
    )
    today = clock.today()
    if leaving_date is not None and leaving_date <= today and not child.is_archived:
        _archive(child, by=by)
    elif child.is_archived and (leaving_date is None or leaving_date > today):
        # A leaving date typed by mistake is corrected: the child is back on the lists.
        child.archived_at = None
        audit.record("child.restored", actor=by, child_id=child.id)
        db.session.flush()
        tell_returning_parents()  # their parents' access, which was to end, continues
    db.session.flush()


def archive_child(child: Child, *, by: User | None) -> None:
    """The child leaves today (or on their start date, if they never started)."""
    if child.is_archived:
        return
    today = clock.today()
    if child.leaving_date is None or child.leaving_date > today:
        child.leaving_date = max(today, child.start_date)
    _archive(child, by=by)
    db.session.flush()


def _archive(child: Child, *, by: User | None) -> None:
    child.archived_at = clock.now()
    audit.record(
        "child.archived",
        actor=by,
        child_id=child.id,
        leaving_date=child.leaving_date.isoformat() if child.leaving_date else None,
    )


def children_due_to_leave() -> list[Child]:
    """Active children whose leaving date has come."""
    return list(
        db.session.scalars(
            select(Child)
            .where(Child.archived_at.is_(None), Child.leaving_date <= clock.today())
            .order_by(Child.id)
        )
    )


def active_children() -> list[Child]:
    return list(
        db.session.scalars(
            select(Child)
            .where(Child.archived_at.is_(None))
            .order_by(Child.last_name, Child.first_name, Child.id)
        )
    )


def archived_children() -> list[Child]:
    return list(
        db.session.scalars(
            select(Child)
            .where(Child.archived_at.is_not(None))
            .order_by(Child.archived_at.desc(), Child.id)
        )
    )
