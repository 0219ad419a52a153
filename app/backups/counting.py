"""Reading the data of a dump as it is written: rows counted, sequences noted, tables handed on.

The manifest's counts must be exactly what the backup holds. Counting them
with SQL costs PostgreSQL a relation cache entry and a plan for each of the
15,000 tables of 1,000 settings (about 10 s of CPU beside ``pg_dump``'s).
Instead the archive streaming out of ``pg_dump`` is also given to
``pg_restore --data-only -f -``, whose output has one ``COPY schema.table ...
FROM stdin;`` line per table, then one line per row, then ``\\.``, and, after
every table, one ``SELECT pg_catalog.setval('schema.sequence', value, called);``
per sequence; counting the lines between costs a decompression and a scan for
newlines. A verification then checks these counts against a real restore: two
independent readings of the same backup.

The same reading hands each table's ``COPY`` block to a sink: a backup keeps each
setting's blocks in a file of its own (``app.backups.setting_data``), which a
one-setting restore reads without the whole dump.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable

# COPY schema.table (columns) FROM stdin;  -- either name may be quoted ("a""b")
_NAME = r'(?:"(?:[^"]|"")+"|[^\s."]+)'
COPY_LINE = re.compile(rf"^COPY ({_NAME})\.({_NAME}) ")
_SETVAL = re.compile(
    rb"^SELECT pg_catalog\.setval\('((?:[^']|'')+)', (-?\d+), (true|false)\);$", re.MULTILINE
)
_QUALIFIED = re.compile(rf"^({_NAME})\.({_NAME})$")
_END = b"\\.\n"

TableSink = Callable[[str, str, bytes], object]
"""Called with (schema, table, bytes) for each piece of a table's ``COPY`` block, in
order: its ``COPY`` line, its rows in pieces, its ``\\.`` line."""


def unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


class DumpReader:
    """Fed ``pg_restore --data-only -f -`` output in pieces. Once it has all been fed,
    ``counts`` is rows per table per schema and ``sequences`` each sequence's
    ``(value, is_called)`` per schema; each table's ``COPY`` block went to ``sink``."""

    def __init__(self, sink: TableSink | None = None) -> None:
        self.counts: defaultdict[str, dict[str, int]] = defaultdict(dict)
        self.sequences: defaultdict[str, dict[str, tuple[int, bool]]] = defaultdict(dict)
        self._sink = sink
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
                position = self._read_between_tables(block, position, complete)
            else:
                position = self._count_rows(block, position, complete)

    def _read_between_tables(self, block: bytes, position: int, complete: int) -> int:
        """Note the sequences set from ``position`` up to the next ``COPY`` line, and start
        the table that line names; returns where reading goes on. Comments and settings
        between are skipped unread: searched for in C, not looked at line by line."""
        if block.startswith(b"COPY ", position):
            start = position
        else:
            found = block.find(b"\nCOPY ", position, complete)
            start = complete if found < 0 else found + 1
        for setval in _SETVAL.finditer(block, position, start):
            qualified = _QUALIFIED.match(setval.group(1).decode().replace("''", "'"))
            if qualified:
                schema, sequence = (unquote(name) for name in qualified.groups())
                self.sequences[schema][sequence] = (
                    int(setval.group(2)),
                    setval.group(3) == b"true",
                )
        if start == complete:
            return complete
        end = block.index(b"\n", start) + 1
        found_copy = COPY_LINE.match(block[start:end].decode())
        if found_copy is not None:  # else a COPY of something other than a table's data
            schema, table = (unquote(name) for name in found_copy.groups())
            self._table = (schema, table)
            self.counts[schema][table] = 0
            self._give(block[start:end])
        return end

    def _give(self, data: bytes) -> None:
        if self._sink is not None and self._table is not None and data:
            self._sink(*self._table, data)

    def _count_rows(self, block: bytes, position: int, complete: int) -> int:
        """Count the data lines from ``position`` up to the ``\\.`` line that ends them."""
        assert self._table is not None
        end = self._end_line(block, position, complete)
        last = complete if end < 0 else end
        schema, table = self._table
        self.counts[schema][table] += block.count(b"\n", position, last)
        if end < 0:
            self._give(block[position:complete])
            return complete
        self._give(block[position : end + len(_END)])
        self._table = None
        return end + len(_END)

    @staticmethod
    def _end_line(block: bytes, position: int, complete: int) -> int:
        """Where the line that is exactly ``\\.`` starts, or -1."""
        at = block.find(_END, position, complete)
        while at >= 0 and at != position and block[at - 1 : at] != b"\n":
            at = block.find(_END, at + 1, complete)
        return at
