"""What each dashboard shows besides its links: a new setting's first steps, the review
queue's size for staff, and for a parent what is new in each child's journal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select

from app.auth.models import Role, User
from app.auth.viewer import Reader
from app.extensions import db
from app.journal import listing, publishing
from app.journal.models import (
    ContentRulesRecord,
    JournalAccess,
    JournalView,
    ObservationChild,
    ObservationStatus,
)
from app.people.models import Child


@dataclass(frozen=True)
class Step:
    label: str
    endpoint: str
    done: bool


def getting_started() -> list[Step]:
    """A new setting's first steps, each done once something in the setting shows it."""

    def any_row(*conditions: object) -> bool:
        return bool(db.session.scalar(select(exists().where(*conditions))))

    return [
        Step("Add the children, with their rooms", "people.new_child", any_row(Child.id > 0)),
        Step("Invite your staff", "people.new_staff", any_row(User.role == Role.STAFF)),
        Step(
            "Link parents and carers to their children",
            "people.children",
            any_row(User.role == Role.PARENT),
        ),
        Step("Set the journal's policies", "journal.policies", any_row(ContentRulesRecord.id == 1)),
    ]


def waiting_for_review(viewer: Reader) -> int:
    """How many items wait in ``viewer``'s review queue."""
    held, home = publishing.review_queue(viewer)
    return len(held) + len(home)


@dataclass(frozen=True)
class NewInJournal:
    child: Child
    new_observations: int
    last_looked: datetime | None


def new_since_last_visit(parent: User) -> list[NewInJournal]:
    """For each of a parent's children: observations published since the parent last opened
    that child's journal (all of them before the first visit)."""
    news = []
    for child in listing.journal_children(parent):
        last_looked = db.session.scalar(
            select(func.max(JournalAccess.at)).where(
                JournalAccess.viewer_id == parent.id,
                JournalAccess.child_id == child.id,
                JournalAccess.what == JournalView.JOURNAL,
            )
        )
        published = (
            select(func.count())
            .select_from(ObservationChild)
            .where(
                ObservationChild.child_id == child.id,
                ObservationChild.status == ObservationStatus.PUBLISHED,
            )
        )
        if last_looked is not None:  # in the journal since: a child added later counts then
            published = published.where(ObservationChild.in_journal_since > last_looked)
        news.append(NewInJournal(child, db.session.scalar(published) or 0, last_looked))
    return news
