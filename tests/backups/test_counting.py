"""Rows counted in a dump's data as pg_restore prints it, fed in pieces of any size."""

from __future__ import annotations

import pytest

from app.backups.counting import DumpRowCounter

LINES = [
    b"--",
    b"-- Data for Name: children; Type: TABLE DATA; Schema: setting_sunny; Owner: postgres",
    b"--",
    b"",
    b"COPY setting_sunny.children (id, first_name) FROM stdin;",
    b"1\tAda",
    b"2\tends with a backslash and a dot \\\\.",
    b"3\t\\\\.",
    b"\\.",
    b"",
    b"",
    b'COPY setting_sunny."user ""notes""" (id) FROM stdin;',
    b"\\.",
    b"",
    b"COPY public.settings (id, slug) FROM stdin;",
    b"7\tsunny",
    b"\\.",
    b"",
]
DUMP = b"\n".join(LINES) + b"\n"


@pytest.mark.parametrize("piece", [1, 7, 64, len(DUMP)])
def test_each_table_s_rows_are_counted_however_the_output_is_cut(piece):
    counter = DumpRowCounter()
    for start in range(0, len(DUMP), piece):
        counter.feed(DUMP[start : start + piece])

    assert counter.counts == {
        "setting_sunny": {"children": 3, 'user "notes"': 0},
        "public": {"settings": 1},
    }
