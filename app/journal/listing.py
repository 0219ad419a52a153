"""Finding observations: staff's list, a child's journal, one observation, and the
filters that narrow them (newest first, a page at a time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, Select, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.access.policy import Action, can
from app.access.scopes import (
    about_child,
    children_seen_by,
    observations_in_full_for,
    observations_in_journal,
)
from app.auth.models import User
from app.auth.viewer import Reader
from app.extensions import db
from app.journal.models import (
    Observation,
    ObservationChild,
    ObservationFacts,
    ObservationKind,
    ObservationStatus,
    Photo,
    PhotoChild,
    PhotoState,
)
from app.paging import PAGE_SIZE, Page, paged_query
from app.people.models import Child


@dataclass(frozen=True)
class Filters:
    """What a list is narrowed to (every field optional).

    ``text`` is matched here only on staff's own list, where every name shows; in a
    child's view it is matched on the text as that view shows it (``app.journal.viewing``),
    so a name the group-name policy hides cannot be found by searching for it.
    """

    child_id: int | None = None
    area: str | None = None
    author_id: int | None = None
    status: ObservationStatus | None = None
    date_from: date | None = None
    date_to: date | None = None
    room: str | None = None
    key_person_id: int | None = None
    text: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.child_id:
            conditions.append(about_child(self.child_id))
        if self.area:
            conditions.append(Observation.areas.contains([self.area]))
        if self.author_id:
            conditions.append(Observation.author_id == self.author_id)
        if self.status:
            conditions.append(Observation.status == self.status)
        if self.date_from:
            conditions.append(Observation.observed_on >= self.date_from)
        if self.date_to:
            conditions.append(Observation.observed_on <= self.date_to)
        if self.room:
            conditions.append(_about_a_child_where(Child.room == self.room))
        if self.key_person_id:
            conditions.append(_about_a_child_where(Child.key_person_id == self.key_person_id))
        return conditions

    def text_conditions(self) -> list[ColumnElement[bool]]:
        """The text search in SQL, for staff's list (every name shown there)."""
        if not self.text:
            return []
        pattern = f"%{_escaped_like(self.text)}%"
        in_caption = exists().where(
            Photo.observation_id == Observation.id, Photo.caption.ilike(pattern, escape="\\")
        )
        return [
            or_(
                Observation.text.ilike(pattern, escape="\\"),
                Observation.next_steps.ilike(pattern, escape="\\"),
                in_caption,
            )
        ]


def _escaped_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _about_a_child_where(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        ObservationChild.observation_id == Observation.id,
        ObservationChild.child_id == Child.id,
        condition,
    )


def rooms() -> list[str]:
    """The rooms of the setting's active children, for the room filter."""
    return list(
        db.session.scalars(
            select(Child.room).where(Child.archived_at.is_(None)).distinct().order_by(Child.room)
        )
    )


def _newest_first(query: Select) -> Select:
    return query.order_by(Observation.observed_on.desc(), Observation.id.desc())


def observation_list(viewer: Reader, filters: Filters, page: int) -> Page[Observation]:
    """Staff's list of observations (all statuses they may see), newest first."""
    conditions = [
        *observations_in_full_for(viewer),
        *filters.conditions(),
        *filters.text_conditions(),
    ]
    return paged_query(
        _newest_first(select(Observation).where(*conditions)),
        page,
        select(func.count()).select_from(Observation).where(*conditions),
    )


# A child's view names the tagged children from ``setting_children()``: their rows
# (and their key person's, which a Child row joins) need not be loaded with the tags.
# The tags come joined to the whole journal's query, the photos and who is in them in one
# more.
_FOR_CHILD_VIEW = (
    joinedload(Observation.tags).lazyload(ObservationChild.child),
    selectinload(Observation.photos).joinedload(Photo.people),
)


@dataclass(frozen=True)
class ListedAuthor:
    full_name: str


@dataclass(frozen=True)
class ListedPhoto:
    """A photo of a listed observation: what a child's view of it reads."""

    id: int
    observation_id: int
    caption: str
    file_name: str
    thumbnail_name: str
    child_ids: frozenset[int]  # who can be seen in it


@dataclass(frozen=True)
class ListedObservation(ObservationFacts):
    """An observation of a journal page, read as columns (``journal_rows``): what
    ``ChildView.show`` reads of an ``Observation``, under the same names (a page has no use
    for the ORM's objects, which cost it a fifth of its CPU)."""

    id: int
    kind: ObservationKind
    status: ObservationStatus
    author_id: int | None
    author: ListedAuthor | None
    observed_on: date
    text: str
    next_steps: str
    areas: list[str]
    characteristics: list[str]
    age_band: str | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    edited_at: datetime | None
    child_ids: frozenset[int]  # the tagged children
    photos: tuple[ListedPhoto, ...]


_COLUMNS = (
    Observation.id,
    Observation.kind,
    Observation.status,
    Observation.author_id,
    Observation.observed_on,
    Observation.text,
    Observation.next_steps,
    Observation.areas,
    Observation.characteristics,
    Observation.age_band,
    Observation.created_at,
    Observation.updated_at,
    Observation.published_at,
    Observation.edited_at,
)
_TAGGED = (
    select(func.array_agg(ObservationChild.child_id))
    .where(ObservationChild.observation_id == Observation.id)
    .scalar_subquery()
)
_IN_PHOTO = (
    select(func.coalesce(func.array_agg(PhotoChild.child_id), literal([], ARRAY(Integer))))
    .where(PhotoChild.photo_id == Photo.id)
    .scalar_subquery()
)
_PHOTOS = (
    select(
        func.json_agg(
            aggregate_order_by(
                func.json_build_array(
                    Photo.id, Photo.caption, Photo.file_name, Photo.thumbnail_name, _IN_PHOTO
                ),
                Photo.position,
                Photo.id,
            )
        )
    )
    # An unreadable upload (FAILED) is on no page: its key person is told on the observation.
    .where(Photo.observation_id == Observation.id, Photo.state != PhotoState.FAILED)
    .scalar_subquery()
)


_COLUMN_NAMES = tuple(column.key for column in _COLUMNS)
# How each column comes in JSON, in the order of ``_COLUMNS``: what to make of it.
_FROM_JSON: dict[str, Callable[[Any], Any]] = {
    "kind": ObservationKind,
    "status": ObservationStatus,
    "observed_on": date.fromisoformat,
    "created_at": datetime.fromisoformat,
    "updated_at": datetime.fromisoformat,
    "published_at": datetime.fromisoformat,
    "edited_at": datetime.fromisoformat,
}


def journal_page_rows(
    entries: Sequence[ColumnElement[bool]],
    conditions: Sequence[ColumnElement[bool]],
    skipped: Any,
) -> Select[Any]:
    """A page of a journal (after ``skipped`` observations), newest first, as columns:
    those of ``_COLUMNS``, the author's name, the tagged children, the photos with who is
    in them, and how many there are in all.

    The page is picked from the child's tag rows under ``entries`` (``app.access.scopes.
    journal_entries``): they carry the observation's date, status and kind, so a page is
    one range of their index, newest first, counted by ``count(*) OVER ()``; joining the
    tags with the setting's observations for that cost PostgreSQL most of a page and grew
    with the setting. The observations are joined in only for ``conditions`` on their own
    columns (the filters), and only the page's are read in full."""
    tag = ObservationChild
    picked = select(tag.observation_id.label("id"), tag.observed_on, func.count().over())
    picked = picked.where(*entries)
    if conditions:
        picked = picked.join(Observation, Observation.id == tag.observation_id)
        picked = picked.where(*conditions)
    newest_first = (tag.observed_on.desc(), tag.observation_id.desc())
    page = picked.order_by(*newest_first).limit(PAGE_SIZE).offset(skipped).subquery("picked")
    total = page.c[2]
    return (
        select(*_COLUMNS, User.full_name, _TAGGED, _PHOTOS, total)
        .select_from(page)
        .join(Observation, Observation.id == page.c.id)
        .outerjoin(User, User.id == Observation.author_id)
        .order_by(page.c.observed_on.desc(), page.c.id.desc())
    )


def listed_from_json(row: list[Any]) -> ListedObservation:
    """A row of ``journal_rows`` (and what follows it) as PostgreSQL's JSON gives it."""
    columns = {
        name: value if value is None or name not in _FROM_JSON else _FROM_JSON[name](value)
        for name, value in zip(_COLUMN_NAMES, row, strict=False)
    }
    author_name, tagged, photos = row[len(_COLUMN_NAMES) : len(_COLUMN_NAMES) + 3]
    return ListedObservation(
        **columns,
        author=ListedAuthor(author_name) if author_name is not None else None,
        child_ids=frozenset(tagged or ()),
        photos=tuple(
            ListedPhoto(photo_id, columns["id"], caption, file_name, thumbnail, frozenset(seen))
            for photo_id, caption, file_name, thumbnail, seen in photos or ()
        ),
    )


def whole_journal(
    child: Child, viewer: Reader, filters: Filters | None = None
) -> list[Observation]:
    """Every observation of ``child``'s journal ``viewer`` may see (the export), or those the
    filters keep (but for ``text``, which the caller matches on what the view shows)."""
    conditions = [
        *observations_in_journal(viewer, child),
        *(filters.conditions() if filters else []),
    ]
    return list(
        db.session.scalars(
            _newest_first(select(Observation).options(*_FOR_CHILD_VIEW).where(*conditions))
        ).unique()
    )


def observation_in_journal(viewer: Reader, child: Child, observation_id: int) -> Observation | None:
    return db.session.scalar(
        select(Observation).where(
            Observation.id == observation_id, *observations_in_journal(viewer, child)
        )
    )


def observation_for_staff(viewer: Reader, observation_id: int) -> Observation | None:
    """An observation in full (every name), for managers and staff who may see it."""
    return db.session.scalar(
        select(Observation).where(
            Observation.id == observation_id, *observations_in_full_for(viewer)
        )
    )


def journal_children(viewer: Reader) -> list[Child]:
    """The children whose journals ``viewer`` may open, for lists and filters, those who
    have left last: a family's by first name, the setting's by surname (and those who have
    left, latest first)."""
    left_last = Child.archived_at.is_not(None)
    if can(viewer, Action.READ_AS_FAMILY):
        order = (left_last, Child.first_name, Child.id)
    else:
        order = (left_last, Child.archived_at.desc(), Child.last_name, Child.first_name, Child.id)
    seen = select(Child).where(*children_seen_by(viewer))
    return list(db.session.scalars(seen.order_by(*order)))


def authors() -> list[User]:
    """Everyone who has written an observation, for the author filter."""
    return list(
        db.session.scalars(
            select(User)
            .where(exists().where(Observation.author_id == User.id))
            .order_by(User.full_name, User.id)
        )
    )
