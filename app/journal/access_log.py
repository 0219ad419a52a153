"""The journal access log: who saw which child's journal or observation, and when.
Views of a journal are recorded here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import cast, column, func, insert, select, values

from app import clock
from app.auth.models import User
from app.extensions import db
from app.journal.models import JournalAccess, JournalView, Observation
from app.paging import Page, paged_query
from app.people.models import Child

_COLUMNS = ("at", "viewer_id", "child_id", "observation_id", "what")


def record_view(
    viewer: User,
    children: Iterable[Child | int],
    what: JournalView,
    observation: Observation | None = None,
    *,
    only_write: bool = False,
) -> None:
    """Who saw which child's journal or observation, and when (nothing else is logged here).

    ``only_write``: the request's transaction writes nothing but this (a page that shows
    a journal). Its commit then does not wait for the WAL to reach the disk
    (``synchronous_commit`` off, for this transaction only): a crash may lose the views
    of its last fraction of a second, but never leaves a wrong row or a half-written one,
    and the page does not wait for a disk flush. The setting rides on the INSERT itself
    (``set_config(..., true)`` is ``SET LOCAL``): no extra round trip.
    """
    now = clock.now()
    rows = [
        (
            now,
            viewer.id,
            child if isinstance(child, int) else child.id,
            observation.id if observation else None,
            what,
        )
        for child in children
    ]
    if not rows:
        return
    table = JournalAccess.__table__
    seen = values(*(column(name, table.c[name].type) for name in _COLUMNS), name="seen")
    seen = seen.data(rows)
    # Cast: PostgreSQL reads a NULL in VALUES as text (an observation's id when none).
    query = select(*(cast(seen.c[name], table.c[name].type) for name in _COLUMNS))
    if only_write:
        query = query.where(func.set_config("synchronous_commit", "off", True) == "off")
    db.session.execute(insert(JournalAccess).from_select(_COLUMNS, query))


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
