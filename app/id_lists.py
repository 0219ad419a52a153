"""Conditions on a list of ids that bind the list as one array parameter.

``column IN (...)`` binds a parameter per id: a purge batch's or a deletion drain's
thousands of ids cost more to send and plan than the statement takes to run
(``bench/retention.py``). ``= ANY(array)`` / ``<> ALL(array)`` mean the same with one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ARRAY, Integer, all_, any_, literal
from sqlalchemy.sql.expression import ColumnElement


def among(column: ColumnElement, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column = ANY(ids)``: ``column IN ids``."""
    return column == any_(literal(list(ids), ARRAY(Integer)))


def not_among(column: ColumnElement, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column <> ALL(ids)``: ``column NOT IN ids``."""
    return column != all_(literal(list(ids), ARRAY(Integer)))
