"""The journal access log: who saw which child's journal or observation, and when.
Views of a journal are recorded here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Insert, bindparam, func, insert, select

from app import clock
from app.auth.models import User
from app.extensions import db
from app.journal.models import JournalAccess, JournalView, Observation
from app.paging import Page, paged_query
from app.people.models import Child


def _recording(*, wait_for_disk: bool) -> Insert:
    """INSERT one view, from named parameters (compiled once, cached by SQLAlchemy)."""
    table = JournalAccess.__table__
    row = select(*(bindparam(name, type_=table.c[name].type) for name in _COLUMNS))
    if not wait_for_disk:
        row = row.where(func.set_config("synchronous_commit", "off", True) == "off")
    return insert(table).from_select(_COLUMNS, row)  # the table: not an ORM bulk insert


_COLUMNS = ("at", "viewer_id", "child_id", "observation_id", "what")
_RECORD = _recording(wait_for_disk=True)
_RECORD_WITHOUT_WAITING = _recording(wait_for_disk=False)


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
        {
            "at": now,
            "viewer_id": viewer.id,
            "child_id": child if isinstance(child, int) else child.id,
            "observation_id": observation.id if observation else None,
            "what": what,
        }
        for child in children
    ]
    if rows:
        db.session.execute(_RECORD_WITHOUT_WAITING if only_write else _RECORD, rows)


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
