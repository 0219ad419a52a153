"""The journal access log: who saw which child's journal or observation, and when.
Views of a journal are recorded here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from app import clock
from app.auth.models import User
from app.extensions import db
from app.journal.models import JournalAccess, JournalView, Observation
from app.paging import Page, paged_query
from app.people.models import Child


def record_view(
    viewer: User,
    children: Iterable[Child | int],
    what: JournalView,
    observation: Observation | None = None,
) -> None:
    """Who saw which child's journal or observation, and when (nothing else is logged here)."""
    now = clock.now()
    for child in children:
        db.session.add(
            JournalAccess(
                at=now,
                viewer_id=viewer.id,
                child_id=child if isinstance(child, int) else child.id,
                observation_id=observation.id if observation else None,
                what=what,
            )
        )
    db.session.flush()


def entries(child: Child, page: int) -> Page[JournalAccess]:
    """A page of who saw ``child``'s journal, newest first."""
    condition = JournalAccess.child_id == child.id
    return paged_query(
        select(JournalAccess)
        .where(condition)
        .order_by(JournalAccess.at.desc(), JournalAccess.id.desc()),
        page,
        select(func.count()).select_from(JournalAccess).where(condition),
    )
