"""Children, the staff's employment dates, the links between parents and children,
and the notice a parent gets when their last child has left.

Accounts themselves are ``app.auth.models.User`` rows (manager, staff, parent);
the tables here only add what the nursery knows about those people.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    String,
    UniqueConstraint,
    func,
    orm,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.auth.models import User
from app.extensions import db
from app.mail.models import OutboxMessage, email_delivered
from tenants.schema import TenantModel

NAME_LENGTH = 60
ROOM_LENGTH = 60
RELATIONSHIP_LENGTH = 40


class Child(TenantModel):
    """A child of the setting; archived (not deleted) on their leaving date.

    An archived child is gone from active lists and gets no new observations,
    but is kept, with their journal, until the retention deadline.
    """

    __tablename__ = "children"
    __table_args__ = (
        CheckConstraint(
            "leaving_date IS NULL OR leaving_date >= start_date", name="leaving_after_start"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    last_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    preferred_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    date_of_birth: Mapped[date] = mapped_column(Date)
    start_date: Mapped[date] = mapped_column(Date)
    room: Mapped[str] = mapped_column(String(ROOM_LENGTH))
    key_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # May this child appear in photos shown in other families' journals?
    photo_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    leaving_date: Mapped[date | None] = mapped_column(Date)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Names the child was known by before a correction: earlier observations may still say
    # them, and the masking hides them as it hides the current ones.
    former_names: Mapped[list[str]] = mapped_column(
        ARRAY(String), default=list, server_default="{}"
    )

    key_person: Mapped[User | None] = orm.relationship(lazy="joined")
    parent_links: Mapped[list[ParentLink]] = orm.relationship(
        back_populates="child", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def known_as(self) -> str:
        """The name staff use every day: the preferred name when there is one."""
        return self.preferred_name or self.first_name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class StaffMember(TenantModel):
    """Employment dates of a manager or member of staff (one row per such user).

    Staff are deactivated on their leaving date by the deactivation sweep.
    """

    __tablename__ = "staff_members"
    __table_args__ = (
        CheckConstraint(
            "leaving_date IS NULL OR start_date IS NULL OR leaving_date >= start_date",
            name="leaving_after_start",
        ),
    )

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    start_date: Mapped[date | None] = mapped_column(Date)
    leaving_date: Mapped[date | None] = mapped_column(Date)

    user: Mapped[User] = orm.relationship(lazy="joined")


class ParentLink(TenantModel):
    """A parent or carer linked to a child, confirmed by a manager.

    A parent sees only the children they are linked to.
    """

    __tablename__ = "parent_links"
    __table_args__ = (UniqueConstraint("parent_id", "child_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    # In the family's words: Mother, Dad, Grandma, Foster carer ... (``orm.relationship``
    # is spelt out in this module because this column takes the plain name.)
    relationship: Mapped[str] = mapped_column(String(RELATIONSHIP_LENGTH))
    confirmed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    confirmed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    parent: Mapped[User] = orm.relationship(foreign_keys=[parent_id], lazy="joined")
    child: Mapped[Child] = orm.relationship(back_populates="parent_links", lazy="joined")
    confirmed_by: Mapped[User | None] = orm.relationship(foreign_keys=[confirmed_by_id])


class ParentDeparture(TenantModel):
    """A parent whose last linked child has left: their notice, when they were told, when
    access ends.

    Written by the deactivation sweep when it queues the notice (so the notice
    goes once), and removed again if the parent is linked to a child who is
    still at the setting. ``notice_sent_at`` is set only when the mail server
    has taken the notice: a parent is never deactivated before they were told.
    """

    __tablename__ = "parent_departures"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    last_child_left_on: Mapped[date] = mapped_column(Date)
    notice_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    access_ends_on: Mapped[date] = mapped_column(Date)
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL"), index=True
    )

    user: Mapped[User] = orm.relationship(lazy="joined")
    notice: Mapped[OutboxMessage | None] = orm.relationship(lazy="joined")


@email_delivered.connect
def _parent_told_when_their_notice_is_delivered(message: OutboxMessage) -> None:
    """Told is when the mail server took the notice, not when the sweep queued it."""
    db.session.execute(
        update(ParentDeparture)
        .where(ParentDeparture.notice_id == message.id)
        .values(notice_sent_at=message.finished_at)
    )
