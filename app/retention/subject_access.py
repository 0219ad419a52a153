"""Subject-access export: everything the setting holds about one person, in one ZIP.

For a child, a parent or a member of staff the export holds every row of every table of
the setting's schema that mentions them: their own row, every row whose foreign key
points at them, audit entries naming them (as subject, actor or by child id), and for a
child the observations they are tagged in with those observations' photos, comments and
edit history (revisions).
Secrets (password and PIN hashes, link token hashes) are named but not given. The ZIP
holds ``subject-access.json`` (the rows by table), ``subject-access.pdf`` (the same, to
read) and ``photos/`` (the files of the photos in the export). Tables are found from the
models' metadata, so a table added later is covered without changing this module.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer
from sqlalchemy import Table, or_, select
from sqlalchemy.sql.expression import ColumnElement

from app import clock
from app.auth import audit
from app.auth.models import AuditEntry, User
from app.extensions import db
from app.journal.models import (
    Comment,
    Observation,
    ObservationChild,
    ObservationRevision,
    Photo,
)
from app.journal.storage import setting_folder
from app.retention.ledger import RecordType
from app.retention.pdf_styles import pdf_styles
from tenants.binding import current_setting
from tenants.schema import TenantModel

SECRET_COLUMNS = frozenset({"password_hash", "pin_hash", "token_hash"})
WITHHELD = "(held, not shown: a secret)"


def _target(record_type: RecordType) -> str:
    return "children" if record_type is RecordType.CHILD else "users"


def _pointing_at(table: Table, target: str, person_id: int) -> list[ColumnElement[bool]]:
    """Conditions for rows of ``table`` that name the person by id."""
    conditions = [
        column == person_id
        for column in table.columns
        if any(key.column.table.name == target for key in column.foreign_keys)
    ]
    if table.name == target:
        conditions.append(table.c.id == person_id)
    return conditions


def _child_observations(child_id: int):  # noqa: ANN202 (a subquery)
    return select(ObservationChild.observation_id).where(ObservationChild.child_id == child_id)


def _also_about(table: Table, record_type: RecordType, person_id: int) -> list[ColumnElement[bool]]:
    """Rows that mention the person without a foreign key to them."""
    if table is AuditEntry.__table__ and record_type is RecordType.CHILD:
        return [AuditEntry.detail["child_id"].astext == str(person_id)]
    if record_type is RecordType.CHILD:
        observations = _child_observations(person_id)
        if table is Observation.__table__:
            return [Observation.id.in_(observations)]
        if table in (Photo.__table__, Comment.__table__, ObservationRevision.__table__):
            return [table.c.observation_id.in_(observations)]
    return []


def rows_about(record_type: RecordType, person_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of the bound setting's schema that mentions the person, by table."""
    target = _target(record_type)
    found: dict[str, list[dict[str, Any]]] = {}
    for table in TenantModel.metadata.sorted_tables:
        conditions = [
            *_pointing_at(table, target, person_id),
            *_also_about(table, record_type, person_id),
        ]
        if not conditions:
            continue
        rows = db.session.execute(select(table).where(or_(*conditions))).mappings().all()
        if rows:
            found[table.name] = [plain_row(row) for row in rows]
    return found


def plain_row(row: Any) -> dict[str, Any]:
    """A row as JSON values, its secrets named but withheld."""
    return {
        key: WITHHELD if key in SECRET_COLUMNS and value is not None else _json_value(value)
        for key, value in row.items()
    }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if hasattr(value, "value"):  # an enum
        return value.value
    return value


def export_subject(record_type: RecordType, person_id: int, *, by: User) -> Path:
    """Write the person's export to a temporary ZIP file and audit it; returns its path
    (the caller sends it and removes it)."""
    rows = rows_about(record_type, person_id)
    document = {
        "format": "learning-journals/subject-access",
        "setting": current_setting().name,
        "record_type": record_type.value,
        "person_id": person_id,
        "made_at": clock.now().isoformat(),
        "tables": rows,
    }
    descriptor, name = tempfile.mkstemp(prefix="subject-access-", suffix=".zip")
    path = Path(name)
    with open(descriptor, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("subject-access.json", json.dumps(document, ensure_ascii=False, indent=1))
        out.writestr("subject-access.pdf", _pdf(document))
        folder = setting_folder()
        for photo in rows.get(Photo.__tablename__, []):
            source = folder / photo["file_name"]
            if source.is_file():
                out.write(source, f"photos/{photo['file_name']}")
    audit.record(
        "export.subject_access",
        actor=by,
        record=record_type.value,
        person=person_id,
        tables=len(rows),
        rows=sum(len(found) for found in rows.values()),
    )
    return path


def _pdf(document: dict[str, Any]) -> bytes:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        SimpleDocTemplate(file.name, pagesize=A4, title="Subject-access export").build(
            list(_flowables(document))
        )
        return Path(file.name).read_bytes()


def _flowables(document: dict[str, Any]) -> Iterator[object]:
    styles = pdf_styles()
    yield Paragraph(escape(f"Everything {document['setting']} holds"), styles["Title"])
    yield Paragraph(
        escape(f"About {document['record_type']} {document['person_id']}, {document['made_at']}"),
        styles["Normal"],
    )
    for table, rows in document["tables"].items():
        yield Spacer(1, 12)
        yield Paragraph(escape(f"{table} ({len(rows)})"), styles["Heading2"])
        for row in rows:
            line = "; ".join(f"{key}: {value}" for key, value in row.items())
            yield Paragraph(escape(line), styles["BodyText"])
