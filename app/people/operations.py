"""The rules about children, staff and parents, callable from a page, the CLI or a job.

Every operation checks what it is given, changes rows and flushes; the caller
(the view, the sweep per setting, the CLI) commits once, so a refusal or a
failure leaves nothing half-saved. Each change to a link or a leaving date is
audited with who made it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.sql.expression import Exists

from app import clock
from app.auth import audit
from app.auth.models import AccountStatus, LinkPurpose, OneTimeLink, Role, User
from app.auth.operations import (
    DeactivatedAccount,
    deactivate_user,
    invite_user,
    reactivate_user,
    refuse_email_in_use,
)
from app.auth.second_factor import people_without_second_factor
from app.extensions import db
from app.mail.models import OutboxMessage
from app.mail.outbox import failed_messages
from app.people.models import (
    NAME_LENGTH,
    RELATIONSHIP_LENGTH,
    ROOM_LENGTH,
    Child,
    ParentDeparture,
    ParentLink,
    StaffMember,
)
from app.retention.archive import children_past_retention
from app.validation import InvalidInput, clean_email, clean_name
from tenants.binding import current_setting
from tenants.models import Setting

STAFF_ROLES = (Role.MANAGER, Role.STAFF)
USER_NAME_LENGTH = 120  # users.full_name
# Dates outside this range are typing mistakes (a year of 0202 or 2206), not real children.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)


class InvalidField(InvalidInput):
    """Input refused; ``field`` names the form field the message belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class PossibleDuplicate(Exception):
    """Another child has the same names and date of birth; save only once confirmed."""

    def __init__(self, existing: Child) -> None:
        super().__init__(f"child {existing.id} has the same names and date of birth")
        self.existing = existing


# ---------------------------------------------------------------- checking input


def _name(raw: str, field: str, label: str, max_length: int = NAME_LENGTH) -> str:
    try:
        return clean_name(raw, field=label, max_length=max_length)
    except InvalidInput as error:
        raise InvalidField(field, str(error)) from error


def _email(raw: str) -> str:
    try:
        return clean_email(raw)
    except InvalidInput as error:
        raise InvalidField("email", str(error)) from error


def _in_range(value: date, field: str, label: str) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InvalidField(
            field, f"{label} must be between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}."
        )
    return value


def _leaving_not_before_start(leaving_date: date | None, start_date: date | None) -> None:
    if leaving_date is None:
        return
    _in_range(leaving_date, "leaving_date", "Leaving date")
    if start_date is not None and leaving_date < start_date:
        raise InvalidField("leaving_date", "Leaving date cannot be before the start date.")


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
        first_name=_name(details.first_name, "first_name", "First name"),
        last_name=_name(details.last_name, "last_name", "Last name"),
        preferred_name=_name(preferred, "preferred_name", "Preferred name") if preferred else "",
        room=_name(details.room, "room", "Room", ROOM_LENGTH),
    )
    _in_range(cleaned.date_of_birth, "date_of_birth", "Date of birth")
    if cleaned.date_of_birth > clock.today():
        raise InvalidField("date_of_birth", "Date of birth cannot be in the future.")
    _in_range(cleaned.start_date, "start_date", "Start date")
    if cleaned.start_date < cleaned.date_of_birth:
        raise InvalidField("start_date", "Start date cannot be before the date of birth.")
    _leaving_not_before_start(cleaned.leaving_date, cleaned.start_date)
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


# ---------------------------------------------------------------- children


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


def set_child_leaving_date(child: Child, leaving_date: date | None, *, by: User) -> None:
    """Set (or clear) the day a child leaves; a date that has come archives them now."""
    _apply_leaving_date(child, leaving_date, by=by)


def _apply_leaving_date(child: Child, leaving_date: date | None, *, by: User | None) -> None:
    _leaving_not_before_start(leaving_date, child.start_date)
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


def children_of(parent: User) -> list[Child]:
    """The children a parent is linked to (including any who have left)."""
    return list(
        db.session.scalars(
            select(Child)
            .join(ParentLink, ParentLink.child_id == Child.id)
            .where(ParentLink.parent_id == parent.id)
            .order_by(Child.archived_at.is_not(None), Child.first_name, Child.id)
        )
    )


def is_linked(parent: User, child: Child) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(ParentLink.parent_id == parent.id, ParentLink.child_id == child.id)
            )
        )
    )


# ---------------------------------------------------------------- parents and links


def clean_relationship(raw: str) -> str:
    return _name(raw, "relationship", "Relationship", RELATIONSHIP_LENGTH)


def add_parent(full_name: str, email: str, *, by: User) -> User:
    """Invite a parent or carer (who then gets their activation email)."""
    return invite_user(full_name, email, Role.PARENT, by)


@dataclass(frozen=True)
class ProposedLink:
    """A parent-to-child link as the confirmation screen shows it, before anything is saved.

    ``existing`` is the parent account already using the email, if any: the
    link goes to that account, whatever name was typed.
    """

    full_name: str
    email: str
    relationship: str
    existing: User | None

    @property
    def reactivates(self) -> bool:
        """The account is deactivated: confirming brings it back (a new activation link)."""
        return self.existing is not None and self.existing.status is AccountStatus.DEACTIVATED

    @property
    def account_key(self) -> str:
        """Which account the screen showed, and whether it offered to reactivate it;
        confirming must name the same."""
        if self.existing is None:
            return "new"
        return f"{self.existing.id}-reactivate" if self.reactivates else str(self.existing.id)


def propose_link(full_name: str, email: str, relationship: str) -> ProposedLink:
    """Check what a manager typed to link a parent or carer; ``InvalidField`` if unusable."""
    name = _name(full_name, "full_name", "Name", USER_NAME_LENGTH)
    address = _email(email)
    relationship = clean_relationship(relationship)
    existing = user_with_email(address)
    if existing is not None and existing.role is not Role.PARENT:
        raise InvalidField(
            "email", "That email belongs to a member of staff, not a parent or carer."
        )
    return ProposedLink(name, address, relationship, existing)


def link_proposed(proposal: ProposedLink, child: Child, *, by: User) -> ParentLink:
    """Link as confirmed: to the existing account, or to a parent invited now."""
    parent = proposal.existing or add_parent(proposal.full_name, proposal.email, by=by)
    return link_parent(parent, child, proposal.relationship, by=by, reactivate=proposal.reactivates)


def link_parent(
    parent: User, child: Child, relationship: str, *, by: User, reactivate: bool = False
) -> ParentLink:
    """Link a parent to a child, as confirmed by ``by`` on the confirmation screen; a
    deactivated parent is reactivated first when the screen said so (``reactivate``)."""
    relationship = clean_relationship(relationship)
    if parent.role is not Role.PARENT:
        raise InvalidInput(f"{parent.full_name} is not a parent or carer account.")
    if parent.status is AccountStatus.DEACTIVATED and not reactivate:
        raise InvalidInput(f"{parent.full_name}'s account is deactivated.")
    if child.is_archived:
        raise InvalidInput(f"{child.full_name} has left; links to children who left are closed.")
    if is_linked(parent, child):
        raise InvalidInput(f"{parent.full_name} is already linked to {child.full_name}.")
    if parent.status is AccountStatus.DEACTIVATED:
        reactivate_account(parent, by=by)
    link = ParentLink(
        parent_id=parent.id,
        child_id=child.id,
        relationship=relationship,
        confirmed_by_id=by.id,
        confirmed_at=clock.now(),
    )
    db.session.add(link)
    # A child at the setting again: any notice that this parent's access ends is void.
    db.session.execute(delete(ParentDeparture).where(ParentDeparture.user_id == parent.id))
    db.session.flush()
    audit.record(
        "parent.linked",
        actor=by,
        subject=parent,
        child_id=child.id,
        relationship=relationship,
    )
    return link


def unlink_parent(parent: User, child: Child, *, by: User) -> None:
    """Remove a parent's link to a child; they no longer see that child anywhere."""
    link = db.session.scalar(
        select(ParentLink).where(ParentLink.parent_id == parent.id, ParentLink.child_id == child.id)
    )
    if link is None:
        raise InvalidInput(f"{parent.full_name} is not linked to {child.full_name}.")
    db.session.delete(link)
    db.session.flush()
    audit.record("parent.unlinked", actor=by, subject=parent, child_id=child.id)


def links_of_child(child: Child) -> list[ParentLink]:
    return list(
        db.session.scalars(
            select(ParentLink).where(ParentLink.child_id == child.id).order_by(ParentLink.id)
        )
    )


def user_with_email(email: str) -> User | None:
    """The account already using this (normalised) email, if any."""
    return db.session.scalar(select(User).where(User.email == email))


def parents() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.PARENT).order_by(User.full_name, User.id)
        )
    )


# ---------------------------------------------------------------- staff


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
    full_name = _name(full_name, "full_name", "Full name", USER_NAME_LENGTH)
    email = _email(email)
    _check_staff_dates(start_date, leaving_date)
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


def _check_staff_dates(start_date: date | None, leaving_date: date | None) -> None:
    if start_date is not None:
        _in_range(start_date, "start_date", "Start date")
    _leaving_not_before_start(leaving_date, start_date)


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
    _check_staff_dates(start_date, leaving_date)
    leaving_now = leaving_date is not None and leaving_date <= clock.today()
    if leaving_now and by is not None and by.id == user.id:
        raise InvalidField("leaving_date", "You cannot end your own access.")
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


# ---------------------------------------------------------------- deactivation


def reactivate_account(user: User, *, by: User) -> None:
    """A manager brings back a deactivated parent or member of staff: they are emailed a
    fresh activation link and choose a new password and PIN. A member of staff's past
    leaving date is cleared (or the sweep would end their access again the same night);
    a parent's notice that access ends is void."""
    if by.role is not Role.MANAGER:
        raise InvalidInput("Only a manager reactivates an account.")
    reactivate_user(user, by=by)
    if user.role in STAFF_ROLES:
        record = staff_dates(user)
        if record is not None and record.leaving_date and record.leaving_date <= clock.today():
            set_staff_dates(user, record.start_date, None, by=by)
    db.session.execute(delete(ParentDeparture).where(ParentDeparture.user_id == user.id))
    db.session.flush()


def deactivate_now(user: User, *, by: User, reason: str) -> None:
    """A manager ends someone's access at once (their sessions end with it)."""
    if user.id == by.id:
        raise InvalidInput("You cannot deactivate your own account.")
    if user.status is AccountStatus.DEACTIVATED:
        raise InvalidInput(f"{user.full_name}'s account is already deactivated.")
    deactivate_user(user, by=by, reason=reason)


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


@dataclass(frozen=True)
class DepartingParent:
    """A parent all of whose linked children have left, and when the last one did."""

    parent: User
    last_child_left_on: date
    departure: ParentDeparture | None


def departing_parents() -> list[DepartingParent]:
    """Parents (not yet deactivated) with linked children who have all left."""
    any_link = exists().where(ParentLink.parent_id == User.id)
    link_to_active_child = (
        select(ParentLink.id)
        .join(Child, Child.id == ParentLink.child_id)
        .where(ParentLink.parent_id == User.id, Child.archived_at.is_(None))
        .exists()
    )
    last_left = (
        select(func.max(func.coalesce(Child.leaving_date, func.date(Child.archived_at))))
        .join(ParentLink, ParentLink.child_id == Child.id)
        .where(ParentLink.parent_id == User.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(User, last_left, ParentDeparture)
        .outerjoin(ParentDeparture, ParentDeparture.user_id == User.id)
        .where(
            User.role == Role.PARENT,
            User.status != AccountStatus.DEACTIVATED,
            any_link,
            ~link_to_active_child,
        )
        .order_by(User.id)
    )
    return [DepartingParent(user, left_on, departure) for user, left_on, departure in rows]


# ---------------------------------------------------------------- people policies

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


# ---------------------------------------------------------------- needs attention


@dataclass(frozen=True)
class NeedsAttention:
    """What the manager's dashboard lists for someone to look at."""

    staff_past_leaving: list[tuple[User, date]]
    parents_of_leavers: list[DepartingParent]
    expired_invitations: list[User]
    parents_not_activated: list[User]
    children_without_parents: list[Child]
    undeliverable_emails: list[User]
    emails_not_delivered: list[OutboxMessage]
    records_past_retention: list[tuple[Child, date]]
    # People the second-factor policy covers who have none yet: their deadline, and
    # whether it has passed (they are taken to enrol at their next sign-in).
    without_second_factor: list[tuple[User, datetime, bool]]

    @property
    def count(self) -> int:
        return sum(
            len(items)
            for items in (
                self.staff_past_leaving,
                self.parents_of_leavers,
                self.expired_invitations,
                self.parents_not_activated,
                self.children_without_parents,
                self.undeliverable_emails,
                self.emails_not_delivered,
                self.records_past_retention,
                self.without_second_factor,
            )
        )


def _open_activation_link() -> Exists:
    return exists().where(
        OneTimeLink.user_id == User.id,
        OneTimeLink.purpose == LinkPurpose.ACTIVATION,
        OneTimeLink.used_at.is_(None),
        OneTimeLink.expires_at > clock.now(),
    )


def needs_attention() -> NeedsAttention:
    staff_past_leaving = db.session.execute(
        select(User, StaffMember.leaving_date)
        .join(StaffMember, StaffMember.user_id == User.id)
        .where(
            StaffMember.leaving_date <= clock.today(),
            User.status != AccountStatus.DEACTIVATED,
        )
        .order_by(StaffMember.leaving_date, User.id)
    )
    invited = select(User).where(User.status == AccountStatus.INVITED).order_by(User.id)
    expired = db.session.scalars(invited.where(~_open_activation_link()))
    not_activated = db.session.scalars(
        invited.where(User.role == Role.PARENT, _open_activation_link())
    )
    no_parents = db.session.scalars(
        select(Child)
        .where(
            Child.archived_at.is_(None),
            ~exists().where(ParentLink.child_id == Child.id),
        )
        .order_by(Child.last_name, Child.first_name, Child.id)
    )
    return NeedsAttention(
        staff_past_leaving=[(user, left_on) for user, left_on in staff_past_leaving],
        parents_of_leavers=departing_parents(),
        expired_invitations=list(expired),
        parents_not_activated=list(not_activated),
        children_without_parents=list(no_parents),
        undeliverable_emails=undeliverable_emails(),
        emails_not_delivered=failed_messages(),
        records_past_retention=children_past_retention(),
        without_second_factor=people_without_second_factor(),
    )


def undeliverable_emails() -> list[User]:
    """People who can still sign in (or are invited) whose address the mail server refused."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.email_bounced_at.is_not(None), User.status != AccountStatus.DEACTIVATED)
            .order_by(User.email_bounced_at.desc(), User.id)
        )
    )
