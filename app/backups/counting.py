"""Counting the rows of every table in a dump, from the dump itself, as it is written.

The manifest's counts must be exactly what the backup holds. Counting them
with SQL costs PostgreSQL a relation cache entry and a plan for each of the
15,000 tables of 1,000 settings (about 10 s of CPU beside ``pg_dump``'s).
Instead the archive streaming out of ``pg_dump`` is also given to
``pg_restore --data-only -f -``, whose output has one ``COPY schema.table ...
FROM stdin;`` line per table, then one line per row, then ``\\.``; counting
the lines between costs a decompression and a scan for newlines. A
verification then checks these counts against a real restore: two
independent readings of the same backup.
"""

from __future__ import annotations

import re
from collections import defaultdict

# COPY schema.table (columns) FROM stdin;  -- either name may be quoted ("a""b")
_NAME = r'(?:"(?:[^"]|"")+"|[^\s."]+)'
_COPY = re.compile(rf"^COPY ({_NAME})\.({_NAME}) ", re.MULTILINE)
_END = b"\\.\n"


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


class DumpRowCounter:
    """Fed ``pg_restore --data-only -f -`` output in pieces; ``counts`` is rows per
    table per schema once it has all been fed."""

    def __init__(self) -> None:
        self.counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
        self._table: tuple[str, str] | None = None
        self._partial_line = b""

    def feed(self, data: bytes) -> None:
        joined = self._partial_line + data
        complete = joined.rfind(b"\n") + 1
        # Whole lines only: the last, unfinished one waits for the next piece.
        block, self._partial_line = joined[:complete], joined[complete:]
        position = 0
        while position < complete:
            if self._table is None:
                position = self._find_copy(block, position, complete)
            else:
                position = self._count_rows(block, position, complete)

    def _find_copy(self, block: bytes, position: int, complete: int) -> int:
        """Skip to the line after the next COPY line (at ``complete`` when there is none)."""
        at = position if block.startswith(b"COPY ", position) else block.find(b"\nCOPY ", position)
        if at < 0 or at >= complete:
            return complete
        start = at if block.startswith(b"COPY ", at) else at + 1
        end = block.index(b"\n", start)
        found = _COPY.match(block[start:end].decode())
        if found is None:  # a COPY of something else: not a table's data
            return end + 1
        schema, table = (_unquote(name) for name in found.groups())
        self._table = (schema, table)
        self.counts[schema][table] = 0
        return end + 1

    def _count_rows(self, block: bytes, position: int, complete: int) -> int:
        """Count the data lines from ``position`` up to the ``\\.`` line that ends them."""
        assert self._table is not None
        end = self._end_line(block, position, complete)
        last = complete if end < 0 else end
        schema, table = self._table
        self.counts[schema][table] += block.count(b"\n", position, last)
        if end < 0:
            return complete
        self._table = None
        return end + len(_END)

    @staticmethod
    def _end_line(block: bytes, position: int, complete: int) -> int:
        """Where the line that is exactly ``\\.`` starts, or -1."""
        at = block.find(_END, position, complete)
        while at >= 0 and at != position and block[at - 1 : at] != b"\n":
            at = block.find(_END, at + 1, complete)
        return at
