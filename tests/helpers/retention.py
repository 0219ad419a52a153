"""Retention helpers: archiving a family's child, draining the file-deletion queue, and
scanning the database and media for anything a purge should have left behind.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import text

from app.extensions import db
from app.journal.models import Observation
from app.people.children import archive_child
from app.people.models import Child
from app.retention import ledger
from app.storage.deletions import drain_file_deletions
from tests.helpers.journal import Journal
from tests.helpers.people import inside

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def archive(app: Flask, family: Journal, child_id: int) -> None:
    with inside(app, family.slug):
        archive_child(db.session.get_one(Child, child_id), by=None)
        db.session.commit()


def drain(app: Flask, slug: str) -> int:
    """What the file-deletion task does after a commit."""
    with inside(app, slug):
        return drain_file_deletions()


def ledger_entries(app: Flask, slug: str) -> list[ledger.LedgerEntry]:
    with app.app_context():
        return ledger.entries_for(slug, LONG_AGO)


def media_files(app: Flask, slug: str) -> set[str]:
    folder: Path = app.config["LJ"].MEDIA_ROOT / slug
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def photo_files(app: Flask, slug: str, observation_id: int) -> set[str]:
    with inside(app, slug):
        observation = db.session.get_one(Observation, observation_id)
        return {n for p in observation.photos for n in (p.file_name, p.thumbnail_name)}


def id_columns_referring_to(app: Flask, slug: str, table: str) -> list[tuple[str, str]]:
    """Every (table, column) of the setting's schema that holds an id of ``table``: its
    primary key and every foreign key pointing at it."""
    with inside(app, slug):
        rows = db.session.execute(
            text(
                """
                SELECT tc.table_name, kcu.column_name
                FROM information_schema.table_constraints tc
                JOIN information_schema.key_column_usage kcu
                  ON kcu.constraint_name = tc.constraint_name
                 AND kcu.table_schema = tc.table_schema
                JOIN information_schema.constraint_column_usage ccu
                  ON ccu.constraint_name = tc.constraint_name
                 AND ccu.table_schema = tc.table_schema
                WHERE tc.table_schema = current_schema()
                  AND tc.constraint_type IN ('FOREIGN KEY', 'PRIMARY KEY')
                  AND ccu.table_name = :table AND ccu.column_name = 'id'
                """
            ),
            {"table": table},
        ).all()
    return sorted({(row[0], row[1]) for row in rows})


def rows_holding_id(app: Flask, slug: str, table: str, value: int) -> list[str]:
    """``table.column`` of every row of the schema that holds this id of ``table``."""
    found = []
    with inside(app, slug):
        for holder, column in id_columns_referring_to(app, slug, table):
            count = db.session.scalar(
                text(f'SELECT count(*) FROM "{holder}" WHERE "{column}" = :value'),
                {"value": value},
            )
            found.extend([f"{holder}.{column}"] * count)
    return found


def text_holding(app: Flask, slug: str, words: list[str]) -> list[str]:
    """``table.column: value`` of every text-like value in the schema containing one of
    the words as a word (ignoring case): text, varchar, arrays and JSON, read as text."""
    with inside(app, slug):
        columns = db.session.execute(
            text(
                """
                SELECT table_name, column_name FROM information_schema.columns
                WHERE table_schema = current_schema()
                  AND (data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY'))
                """
            )
        ).all()
        found = []
        for table, column in columns:
            for word in words:
                values = db.session.scalars(
                    text(
                        f'SELECT "{column}"::text FROM "{table}" WHERE "{column}"::text ~* :pattern'
                    ),
                    {"pattern": rf"\m{re.escape(word)}\M"},
                ).all()
                found.extend(f"{table}.{column}: {value}" for value in values)
    return found
