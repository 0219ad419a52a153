"""The journal access log: who saw which child's journal or observation, and when.
Views of a journal are recorded here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import CTE, Insert, bindparam, func, insert, literal, select
from sqlalchemy.sql.elements import ColumnElement

from app import clock
from app.auth.viewer import Reader
from app.extensions import db
from app.journal.models import JournalAccess, JournalView, Observation
from app.paging import Page, paged_query
from app.people.models import Child


def _not_waiting_for_disk() -> ColumnElement[bool]:
    """``SET LOCAL synchronous_commit = off`` inside the statement (see ``record_view``)."""
    return func.set_config("synchronous_commit", "off", True) == "off"


def _recording(*, wait_for_disk: bool) -> Insert:
    """INSERT one view, from named parameters (compiled once, cached by SQLAlchemy)."""
    table = JournalAccess.__table__
    row = select(*(bindparam(name, type_=table.c[name].type) for name in _COLUMNS))
    if not wait_for_disk:
        row = row.where(_not_waiting_for_disk())
    return insert(table).from_select(_COLUMNS, row)  # the table: not an ORM bulk insert


_COLUMNS = ("at", "viewer_id", "child_id", "observation_id", "what")
_RECORD = _recording(wait_for_disk=True)
_RECORD_WITHOUT_WAITING = _recording(wait_for_disk=False)


def record_view(
    viewer: Reader,
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


def view_recorded_by_the_read(
    viewer_id: Any, what: JournalView, observation_id: Any, seen: Sequence[ColumnElement[bool]]
) -> CTE:
    """The view of a page that reads its journal in one statement, recorded by that same
    statement (a data-modifying CTE, returning the child's id): one row for the child
    ``seen`` picks from ``children`` (none if the viewer may not open it), at the
    parameter ``at``, written as ``record_view(..., only_write=True)`` writes it. The page
    needs no round trip of its own for it; a page that then answers 4xx or 5xx rolls it
    back with the rest of its transaction, so a refused view is never recorded."""
    at = bindparam("at", type_=JournalAccess.__table__.c.at.type)
    row = select(at, viewer_id, Child.id, observation_id, literal(what.value))
    row = row.where(*seen, _not_waiting_for_disk())
    recorded = insert(JournalAccess.__table__).from_select(_COLUMNS, row)
    return recorded.returning(JournalAccess.__table__.c.child_id).cte("recorded")


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
