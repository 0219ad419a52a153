"""A child's journal page as its readers open it: one statement, and a body made once.

A family opens the same page of the same journal again and again, and it changes only
when something it shows changes. So:

1. **One statement** (``_statement``) asks whether the viewer may open the child's journal
   (``app.access.scopes.children_seen_by``, the rule ``open_journal`` asks) and, in the
   same row, reads everything the page is made from: the child, the children whose names
   this viewer always sees (a parent's linked children), every child's name and photo
   consent (for the masking), and the page's observations with their tags, photos and
   total. A child the viewer may not open gives no row, and nothing else is read. The
   same statement records the view in the access log (``access_log.
   view_recorded_by_the_read``): no round trip of its own. The names and the
   observations come as the database's JSON text: a page that is kept already needs
   nothing but that text to find it. A child's observation page reads through the same
   statement, its page being that one observation.
2. **The page's body is made once** (``KEPT_BODIES``) for everything it is made from: that
   text, the child, the viewer (id, role), the policy, the sharing rule and the query
   string. Any change to any of them (an edit, a purge's scrub, a child renamed, a
   consent withdrawn, a new observation) is a different key, so a kept body can never be
   stale, and no viewer is handed a body made for another; nothing has to be told to
   forget one. A body not kept is made from the same text, its cards kept per
   observation (``app.journal.viewing.Cards``).

The statement is built once per role and filters and reused (the viewer's and the child's
ids are its parameters): building and hashing a statement of this size cost more than
reading the page.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Select, Text, bindparam, cast, exists, func, null, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from app import clock
from app.access.policy import Action, can, found_seen_child
from app.access.scopes import children_seen_by, journal_entries, observations_in_journal
from app.auth.models import Role
from app.auth.viewer import Viewer
from app.extensions import db
from app.journal import access_log, listing
from app.journal.listing import Filters, ListedObservation
from app.journal.masking import ChildName
from app.journal.models import JournalView, Observation, ObservationChild
from app.journal.names import NAME_COLUMNS, SettingChildren
from app.paging import PAGE_SIZE, Page
from app.people.models import Child, ParentLink


@dataclass(frozen=True)
class _Ids:
    """The viewer or the child as the scopes' conditions read them (``role``, ``id``), with
    the id a parameter of the statement: the conditions stay ``app.access.scopes``' own,
    and the statement is built once for every viewer of a role."""

    role: Role | None
    id: BindParameter[int]


_VIEWER_ID = bindparam("viewer_id", type_=Integer)
_CHILD_ID = bindparam("child_id", type_=Integer)
_SKIPPED = bindparam("skipped", type_=Integer)  # the observations of the pages before
_OBSERVATION_ID = bindparam("observation_id", type_=Integer)  # one observation's page
_A_JOURNAL = (JournalView.JOURNAL, null())  # what a journal page records, and of which

_CHILD = (Child.id, Child.first_name, Child.last_name, Child.preferred_name, Child.archived_at)
_CHILD_NAMES = tuple(column.key for column in _CHILD)
_NAMES = NAME_COLUMNS


def _json_text(aggregated: Any, *order: Any) -> Any:
    """``json_agg`` of ``aggregated`` in ``order``, as text (psycopg leaves text alone)."""
    return cast(func.json_agg(aggregate_order_by(aggregated, *order)), Text)


def _everyone() -> Any:
    names = select(_json_text(func.json_build_array(*_NAMES), Child.id))
    return names.correlate(None).scalar_subquery()  # every child, not the page's one


def _linked() -> Any:
    """The children linked to the viewer (a parent): their family."""
    linked = select(func.array_agg(ParentLink.child_id)).where(ParentLink.parent_id == _VIEWER_ID)
    return linked.scalar_subquery()


def _in_journal(role: Role) -> list[ColumnElement[bool]]:
    viewer, child = _Ids(role, _VIEWER_ID), _Ids(None, _CHILD_ID)
    return observations_in_journal(viewer, child)  # type: ignore[arg-type]


def _entries(role: Role) -> list[ColumnElement[bool]]:
    viewer, child = _Ids(role, _VIEWER_ID), _Ids(None, _CHILD_ID)
    return journal_entries(viewer, child)  # type: ignore[arg-type]


def _rows(role: Role, filters: Filters, one: bool) -> Any:
    entries = _entries(role)
    if one:
        entries.append(ObservationChild.observation_id == _OBSERVATION_ID)
    page = listing.journal_page_rows(entries, filters.conditions(), _SKIPPED).subquery()
    newest_first = (page.c.observed_on.desc(), page.c.id.desc())
    return select(_json_text(func.json_build_array(*page.c), *newest_first)).scalar_subquery()


@lru_cache(maxsize=64)
def _statement(role: Role, as_family: bool, filters: Filters | None, one: bool) -> Select[Any]:
    """The one statement of a page (``filters`` None: the child, family and names only;
    ``one``: the one observation ``observation_id`` instead of a page, and no row at all
    unless it is in the journal as the viewer sees it: only what is shown is recorded)."""
    viewer = _Ids(role, _VIEWER_ID)
    seen = [Child.id == _CHILD_ID, *children_seen_by(viewer)]  # type: ignore[arg-type]
    what, observation_id = (JournalView.OBSERVATION, _OBSERVATION_ID) if one else _A_JOURNAL
    shown = [exists().where(Observation.id == _OBSERVATION_ID, *_in_journal(role))] if one else []
    recorded = access_log.view_recorded_by_the_read(
        _VIEWER_ID, what, observation_id, [*seen, *shown]
    )
    columns = [*_CHILD, _linked() if as_family else null(), _everyone()]
    columns.append(_rows(role, filters, one) if filters is not None else null())
    # Read only with the view recorded (and under the same access check).
    page = select(*columns).join_from(Child, recorded, recorded.c.child_id == Child.id)
    return page.where(*seen)


@dataclass(frozen=True)
class OpenedJournalPage:
    """A child's journal opened by a viewer: what its page is made from, as read."""

    child: Child  # columns only, not in the session
    family: frozenset[int]  # whose names this viewer always sees (see ``open_journal``)
    names_text: str  # every child's [id, first, last, preferred, former, consent], as JSON
    rows_text: str | None  # the page's observations as JSON (None: not read, or none)
    number: int

    @property
    def key(self) -> Hashable:
        """Everything read, as one key (the texts by their SHA-256: a page may be long)."""
        digest = hashlib.sha256(self.names_text.encode())
        digest.update(b"\0" + (self.rows_text or "").encode())
        child = self.child
        named = (child.id, child.first_name, child.last_name, child.preferred_name)
        return (*named, child.archived_at, self.family, self.number, digest.digest())

    @property
    def past_the_last(self) -> bool:
        """A page after the first with no observation: past the journal's last page (or
        the journal is empty), and the page's statement cannot say how many there are."""
        return self.number > 1 and not self.page().items

    def everyone(self) -> SettingChildren:
        names = json.loads(self.names_text)
        return SettingChildren(
            names=tuple(ChildName(*name, tuple(former)) for *name, former, _consent in names),
            consenting=frozenset(name[0] for name in names if name[-1]),
        )

    def page(self) -> Page[ListedObservation]:
        """The page's observations; each row carries the total (``count(*) OVER ()``). A
        page with none shows no numbers (no page links): its total is left at 0."""
        rows = json.loads(self.rows_text) if self.rows_text else []
        total = rows[0][-1] if rows else 0
        return Page([listing.listed_from_json(row) for row in rows], self.number, total)


def open_journal_page(
    viewer: Viewer,
    child_id: int,
    filters: Filters | None,
    number: int = 1,
    observation_id: int | None = None,
) -> OpenedJournalPage | None:
    """Page ``number`` of the child's journal, if ``viewer`` may open it, with the view
    recorded in the access log (one statement).

    ``filters`` None reads no observations (the caller reads them itself: a search, which
    is matched on what the view shows); ``observation_id``: the page is that observation
    alone, and None unless it is in the journal as ``viewer`` sees it."""
    as_family = can(viewer, Action.READ_AS_FAMILY)
    statement = _statement(viewer.role, as_family, filters, observation_id is not None)
    parameters = {
        "viewer_id": viewer.id,
        "child_id": child_id,
        "skipped": (number - 1) * PAGE_SIZE,
        "observation_id": observation_id,
        "at": clock.now(),
    }
    # On the session's connection (the request's transaction): the pages that open a
    # journal are GETs that change nothing before it, so the ORM's execution path (an
    # autoflush with nothing to flush) would only add ~50 Python calls.
    row = db.session.connection().execute(statement, parameters).first()
    if row is None:
        return None
    *columns, linked, names_text, rows_text = row
    child = Child(**dict(zip(_CHILD_NAMES, columns, strict=True)))  # never added to the session
    found_seen_child(viewer, child)
    family = frozenset({child.id, *(linked or ())})
    return OpenedJournalPage(child, family, names_text, rows_text, number)
