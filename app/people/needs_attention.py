"""What the manager's dashboard lists for someone to look at: leavers, invitations,
children without parents, undelivered email, records past retention, second factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.sql.expression import Exists

from app import clock
from app.auth.models import AccountStatus, LinkPurpose, OneTimeLink, Role, User
from app.auth.second_factor import people_without_second_factor
from app.extensions import db
from app.mail.models import OutboxMessage
from app.mail.outbox import failed_messages
from app.people.links import DepartingParent, departing_parents
from app.people.models import Child, ParentLink, StaffMember
from app.retention.archive import children_past_retention


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
