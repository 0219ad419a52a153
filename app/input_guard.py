"""What every request must be before a view reads it.

One place turns malformed input into a 4xx, so no view can forget and answer 500:

- ``RowIdConverter`` (``<id:child_id>`` in a route) is the only way a URL carries a
  number. Row ids are PostgreSQL ``integer`` columns: a value outside 1 to 2**31 - 1 names no
  row, so the URL matches nothing and answers 404 instead of overflowing in the query.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import BaseConverter, ValidationError

MAX_ROW_ID = 2**31 - 1  # the largest PostgreSQL ``integer``


class RowIdConverter(BaseConverter):
    """A row id in a path: ASCII digits, 1 to ``MAX_ROW_ID``; anything else is a 404."""

    # ASCII only: ``\\d`` would also take other scripts' digits, which ``int()`` accepts.
    regex = r"[0-9]+"
    weight = 50  # as werkzeug's own ``int``: a literal segment ("new") wins over an id
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ROW_ID:
            raise ValidationError  # werkzeug tries the other rules, then answers 404
        return number

    def to_url(self, value: object) -> str:
        return str(int(value))  # type: ignore[call-overload]


def install_input_guard(app: Flask) -> None:
    """Register the ``id`` converter; call before any blueprint adds its routes."""
    app.url_map.converters["id"] = RowIdConverter
