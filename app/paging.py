"""One page of a long list: the page a person asked for, and how many there are."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Select, func, select

from app.extensions import db

PAGE_SIZE = 20


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paged_query(query: Select[tuple[T]], number: int, count_of: Select[tuple[int]]) -> Page[T]:
    """One page of ``query``'s rows, and (``count_of``) how many there are in all."""
    number = max(1, number)
    items = list(db.session.scalars(query.limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)))
    return Page(items, number, db.session.scalar(count_of) or 0)


def paged_with_total(
    query: Select[Any], number: int, item: Callable[[Row[Any]], T] | None = None
) -> Page[T]:
    """One page of ``query``'s rows and how many there are in all, in one statement: the
    total rides on each row as ``count(*) OVER ()`` (counted before LIMIT applies). Only
    a page past the end, which has no row to carry it, counts separately. Each row gives
    an ``item``: by default its first column (an ORM object)."""
    number = max(1, number)
    counted = query.add_columns(func.count().over())
    rows = db.session.execute(counted.limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE))
    # An ORM object's joined collection repeats its row: unique. Columns do not repeat.
    found = rows.all() if item else rows.unique().all()
    if found:
        items = [item(row) for row in found] if item else [row[0] for row in found]
        return Page(items, number, found[0][-1])
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return Page([], number, total or 0)


def paged(items: list[T], number: int) -> Page[T]:
    """One page of a list already in memory."""
    number = max(1, number)
    start = (number - 1) * PAGE_SIZE
    return Page(items[start : start + PAGE_SIZE], number, len(items))
