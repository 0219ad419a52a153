"""A dump's data as pg_restore prints it, fed in pieces of any size: rows counted, sequences
noted, each table's COPY block handed on whole."""

from __future__ import annotations

import pytest

from app.backups.counting import DumpReader

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
    b"--",
    b"-- Name: children_id_seq; Type: SEQUENCE SET; Schema: setting_sunny; Owner: postgres",
    b"--",
    b"",
    b"SELECT pg_catalog.setval('setting_sunny.children_id_seq', 3, true);",
    b'SELECT pg_catalog.setval(\'setting_sunny."it\'\'s ""odd"""\', 1, false);',
    b"",
]
DUMP = b"\n".join(LINES) + b"\n"


@pytest.mark.parametrize("piece", [1, 7, 64, len(DUMP)])
def test_each_table_s_rows_are_counted_and_handed_on_however_the_output_is_cut(piece):
    blocks: dict[tuple[str, str], bytes] = {}

    def keep(schema: str, table: str, data: bytes) -> None:
        blocks[schema, table] = blocks.get((schema, table), b"") + data

    reader = DumpReader(keep)
    for start in range(0, len(DUMP), piece):
        reader.feed(DUMP[start : start + piece])

    assert reader.counts == {
        "setting_sunny": {"children": 3, 'user "notes"': 0},
        "public": {"settings": 1},
    }
    assert reader.sequences == {
        "setting_sunny": {"children_id_seq": (3, True), 'it\'s "odd"': (1, False)}
    }
    assert blocks[("setting_sunny", "children")] == b"\n".join(LINES[4:9]) + b"\n"
    assert blocks[("setting_sunny", 'user "notes"')] == b"\n".join(LINES[11:13]) + b"\n"
    assert blocks[("public", "settings")] == b"\n".join(LINES[14:17]) + b"\n"
