"""Parents and carers and their links to children: invited, proposed and confirmed,
unlinked; and the parents whose linked children have all left. Each change to a link is
audited with who made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, func, select

from app import clock
from app.access.policy import Action, can
from app.auth import audit
from app.auth.models import AccountStatus, Role, User
from app.auth.operations import invite_user
from app.extensions import db
from app.people.accounts import reactivate_account
from app.people.departures import tell_returning_parents
from app.people.input_rules import USER_NAME_LENGTH, checked_email, checked_name
from app.people.models import RELATIONSHIP_LENGTH, Child, ParentDeparture, ParentLink
from app.validation import InvalidField, InvalidInput


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


def clean_relationship(raw: str) -> str:
    return checked_name(raw, "relationship", "Relationship", RELATIONSHIP_LENGTH)


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
    def changes_role(self) -> bool:
        """The account is a former member of staff's: it comes back as a parent's."""
        return self.existing is not None and self.existing.role is not Role.PARENT

    @property
    def account_key(self) -> str:
        """Which account the screen showed, and whether it offered to reactivate it;
        confirming must name the same."""
        if self.existing is None:
            return "new"
        return f"{self.existing.id}-reactivate" if self.reactivates else str(self.existing.id)


def propose_link(full_name: str, email: str, relationship: str) -> ProposedLink:
    """Check what a manager typed to link a parent or carer; ``InvalidField`` if unusable."""
    name = checked_name(full_name, "full_name", "Name", USER_NAME_LENGTH)
    address = checked_email(email)
    relationship = clean_relationship(relationship)
    existing = user_with_email(address)
    if (
        existing is not None
        and existing.role is not Role.PARENT
        and existing.status is not AccountStatus.DEACTIVATED
    ):
        raise InvalidField(
            "email",
            "That email belongs to a member of staff, not a parent or carer: one account "
            "has one role, and theirs is still in use.",
        )
    return ProposedLink(name, address, relationship, existing)


def link_proposed(proposal: ProposedLink, child: Child, *, by: User) -> ParentLink:
    """Link as confirmed: to the existing account, or to a parent invited now; a former
    member of staff's account comes back as a parent's first."""
    parent = proposal.existing or add_parent(proposal.full_name, proposal.email, by=by)
    if proposal.changes_role:
        reactivate_account(parent, by=by, role=Role.PARENT)
        return link_parent(parent, child, proposal.relationship, by=by)
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
    db.session.flush()
    tell_returning_parents()  # a child at the setting again: a notice that access ends is void
    audit.record(
        "parent.linked",
        actor=by,
        subject=parent,
        child_id=child.id,
        relationship=relationship,
    )
    return link


def unlinked_already(parent: User, child: Child, by: User) -> bool:
    """Whether ``by``'s "Unlink" finds the parent unlinked from the child, and they manage
    people: a second tap, told so, not refused."""
    return not is_linked(parent, child) and can(by, Action.MANAGE_PEOPLE)


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
