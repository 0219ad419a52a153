"""One page of a long list: the page a person asked for, and how many there are."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Generic, TypeVar

from sqlalchemy import Select

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


def paged(items: list[T], number: int) -> Page[T]:
    """One page of a list already in memory."""
    number = max(1, number)
    start = (number - 1) * PAGE_SIZE
    return Page(items[start : start + PAGE_SIZE], number, len(items))
