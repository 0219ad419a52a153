"""What the manager's dashboard lists for someone to look at: leavers, invitations,
children without parents, undelivered email, records past retention, second factors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Row, and_, exists, or_, select
from sqlalchemy.sql.expression import Exists

from app import clock
from app.auth.models import AccountStatus, LinkPurpose, OneTimeLink, Role, User
from app.auth.second_factor import FactorPolicy, enrolment_deadlines, lacking_required_factor
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
    records_past_retention: list[tuple[Child, date, bool]]  # (child, purge date, on hold)
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


def _reasons(policy: FactorPolicy) -> dict[str, ColumnElement[bool]]:
    """Why a person is listed: a condition on a ``User`` row (and their staff record)."""
    invited = User.status == AccountStatus.INVITED
    can_sign_in = User.status != AccountStatus.DEACTIVATED
    reasons = {
        "staff_past_leaving": and_(StaffMember.leaving_date <= clock.today(), can_sign_in),
        "expired_invitations": and_(invited, ~_open_activation_link()),
        "parents_not_activated": and_(invited, User.role == Role.PARENT, _open_activation_link()),
        "undeliverable_emails": and_(User.email_bounced_at.is_not(None), can_sign_in),
    }
    if (lacking_factor := lacking_required_factor(policy)) is not None:
        reasons["without_second_factor"] = lacking_factor
    return reasons


# How each list is ordered on the page.
_ORDER: dict[str, Callable[[Row], tuple]] = {
    "staff_past_leaving": lambda row: (row.leaving_date, row.User.id),
    "expired_invitations": lambda row: (row.User.id,),
    "parents_not_activated": lambda row: (row.User.id,),
    "undeliverable_emails": lambda row: (-row.User.email_bounced_at.timestamp(), row.User.id),
    "without_second_factor": lambda row: (row.User.full_name, row.User.id),
}


def _people_by_reason(policy: FactorPolicy) -> dict[str, list[Row]]:
    """Everyone listed for a reason, found in one query (not one a reason: the dashboard
    is a page managers open often), each row with a column saying yes or no per reason."""
    reasons = _reasons(policy)
    rows = db.session.execute(
        select(User, StaffMember.leaving_date, *(c.label(name) for name, c in reasons.items()))
        .outerjoin(StaffMember, StaffMember.user_id == User.id)
        .where(or_(*reasons.values()))
    ).all()
    return {
        name: sorted((row for row in rows if row._mapping[name]), key=order)
        if name in reasons
        else []
        for name, order in _ORDER.items()
    }


def needs_attention(policy: FactorPolicy) -> NeedsAttention:
    """Everything to look at in the current setting, under the second-factor ``policy``."""
    people = _people_by_reason(policy)
    no_parents = db.session.scalars(
        select(Child)
        .where(
            Child.archived_at.is_(None),
            # A deactivated parent reads nothing: a child back after their parents'
            # access ended is as alone as one never linked.
            ~exists().where(
                ParentLink.child_id == Child.id,
                ParentLink.parent_id == User.id,
                User.status != AccountStatus.DEACTIVATED,
            ),
        )
        .order_by(Child.last_name, Child.first_name, Child.id)
    )
    return NeedsAttention(
        staff_past_leaving=[(row.User, row.leaving_date) for row in people["staff_past_leaving"]],
        parents_of_leavers=departing_parents(),
        expired_invitations=[row.User for row in people["expired_invitations"]],
        parents_not_activated=[row.User for row in people["parents_not_activated"]],
        children_without_parents=list(no_parents),
        undeliverable_emails=[row.User for row in people["undeliverable_emails"]],
        emails_not_delivered=failed_messages(),
        records_past_retention=children_past_retention(),
        without_second_factor=enrolment_deadlines(
            policy, [row.User for row in people["without_second_factor"]]
        ),
    )
