"""Subject-access export: everything the setting holds about one person, in one ZIP.

For a child, a parent or a member of staff the export holds every row of every table of
the setting's schema that mentions them: their own row, every row whose foreign key
points at them, audit entries naming them (as subject, actor or by child id), and for a
child the observations they are tagged in with their edit history (revisions) and the
photos of them, and the observations and emails whose texts name them without a tag
(what their purge scrubs or removes). A child's export is their own view of the journal,
as their leaving pack is: under the ``hidden`` group-name policy no other child is named,
only their family's comments are in it, and no photo of a child without photo consent.

An export is handed to its data subject, so it discloses no other child: every text that
may name a child (``NAMING_COLUMNS``, in the JSON and so in the PDF) is shown as the person
may read it. A child's and a parent's export as their own view of the journal shows it
(a parent's: their linked children named, the others under the group-name policy); a
member of staff's with every child's name replaced by the masking's placeholder, though
they wrote the texts: the export goes to them as a private person, not to their role.
Rows and ids stay: only the names in their texts are masked.

Secrets (password and PIN hashes, link token hashes) are named but not given. The ZIP
holds ``subject-access.json`` (the rows by table), ``subject-access.pdf`` (the same, to
read) and ``photos/`` (the files of the photos in a child's export). Tables are found from the
models' metadata, so a table added later is covered without changing this module.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reportlab.platypus import Spacer
from sqlalchemy import Select, Table, or_, select
from sqlalchemy.sql.expression import ColumnElement

from app import clock
from app.auth import audit
from app.auth.models import AuditEntry, User
from app.extensions import db
from app.journal.masking import ChildName, mask_names, names_any
from app.journal.models import (
    Comment,
    Observation,
    ObservationChild,
    ObservationRevision,
    Photo,
    PhotoState,
)
from app.journal.names import names_of_children, setting_children
from app.journal.photo_processing import make_ready
from app.journal.policies import group_name_policy
from app.journal.storage import setting_folder
from app.journal.text import ObservationText
from app.journal.viewing import ChildView
from app.mail.models import OutboxMessage
from app.people.models import Child, ParentLink
from app.retention.archive import audited_about
from app.retention.ledger import RecordType
from app.retention.models import LegalHold
from app.retention.pdf_styles import build_pdf, pdf_paragraph
from app.retention.purge import Mentions
from app.timezones import local_time
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


@dataclass(frozen=True)
class _Naming:
    """Rows that name a child without being tagged with them, by id."""

    observations: list[int]
    messages: list[int]


def _naming(child_id: int) -> _Naming:
    """The observations not tagged with the child and the outbox messages whose texts name
    them as the masking's matcher reads them: the rows their purge scrubs or removes,
    found as it finds them (``Mentions``). A name that a child tagged in the observation
    shares is that child's."""
    [child] = names_of_children(Child.id == child_id)
    mentions = Mentions.of([child_id])
    tagged = set(db.session.scalars(_child_observations(child_id)))
    maybe = sorted(set(mentions.children_named([child_id])) - tagged)
    tags = db.session.execute(
        select(ObservationChild.observation_id, ObservationChild.child_id).where(
            ObservationChild.observation_id.in_(maybe)
        )
    ).all()
    names = {name.id: name for name in names_of_children(Child.id.in_({tag[1] for tag in tags}))}
    kept: dict[int, list[ChildName]] = {}
    for observation, tagged_child in tags:
        kept.setdefault(observation, []).append(names[tagged_child])
    texts = select(
        Observation.id, Observation.text, Observation.next_steps, Observation.review_note
    ).where(Observation.id.in_(maybe))
    messages = select(OutboxMessage.id, OutboxMessage.subject, OutboxMessage.body_text).where(
        OutboxMessage.id.in_(sorted(mentions.messages_naming([child_id])))
    )
    return _Naming(
        observations=[
            observation
            for observation, *written in db.session.execute(texts)
            if any(_names(text, child, kept.get(observation, [])) for text in written)
        ],
        messages=[
            message
            for message, *written in db.session.execute(messages)
            if any(_names(text, child, []) for text in written)
        ],
    )


def _names(text: str | None, child: ChildName, kept: list[ChildName]) -> bool:
    """Whether ``text`` names ``child`` as written or as its reader reads it (a name
    split by formatting, ``**Ad**a``, reads as one)."""
    if not text:
        return False
    return names_any(text, [child], kept) or names_any(ObservationText(text).text, [child], kept)


def _also_about(
    table: Table,
    record_type: RecordType,
    person_id: int,
    view: ChildView | None,
    naming: _Naming | None,
) -> list[ColumnElement[bool]]:
    """Rows that mention the person without a foreign key to them. A child's comments
    are theirs by key (a comment belongs to one child's view of an observation)."""
    if table is AuditEntry.__table__ and record_type is RecordType.CHILD:
        return [AuditEntry.detail["child_id"].astext == str(person_id)]
    if view is not None and naming is not None:
        observations = _child_observations(person_id)
        if table is Observation.__table__:
            return [Observation.id.in_(observations), Observation.id.in_(naming.observations)]
        if table is OutboxMessage.__table__:
            return [OutboxMessage.id.in_(naming.messages)]
        if table is ObservationRevision.__table__:
            return [table.c.observation_id.in_(observations)]
        if table is Photo.__table__:
            return [Photo.id.in_(_photos_seen_in(view, observations))]
    return []


def _own_view(child_id: int, family: frozenset[int]) -> ChildView:
    """The child's journal as their family reads it: the group-name policy and photo
    consent hold in an export as in their leaving pack (another child is no part of
    what is held about them or their parent)."""
    return ChildView(
        child=db.session.get_one(Child, child_id),
        family=family,
        policy=group_name_policy(),
        everyone=setting_children(),
    )


Reading = Callable[[str], str]  # a text as the data subject may read it


def _adults_reading(record_type: RecordType, person_id: int) -> Reading:
    """How a parent's or a member of staff's export shows a text that may name children
    (a child's is their own view's ``mask``)."""
    if record_type is RecordType.PARENT:
        linked = sorted(
            db.session.scalars(select(ParentLink.child_id).where(ParentLink.parent_id == person_id))
        )
        if linked:  # as any of their children's journals reads it: the family is the same
            return _own_view(linked[0], frozenset(linked)).mask
    # Staff, and a parent linked to no child (no journal is theirs to read): no child is
    # theirs, so none is named.
    everyone = setting_children().names
    return lambda text: mask_names(text, everyone)


def _photos_seen_in(view: ChildView, observations: Select) -> list[int]:
    photos = db.session.scalars(select(Photo).where(Photo.observation_id.in_(observations)))
    return [photo.id for photo in photos if view.may_show(photo)]


# Text that may name children, by table: shown as the person may read it.
NAMING_COLUMNS = {
    Child.__tablename__: ("first_name", "last_name", "preferred_name", "former_names"),
    Observation.__tablename__: ("text", "next_steps", "review_note"),
    Photo.__tablename__: ("caption",),
    ObservationRevision.__tablename__: ("changes",),
    Comment.__tablename__: ("body",),
    OutboxMessage.__tablename__: ("subject", "body_text", "body_html"),
    AuditEntry.__tablename__: ("detail",),
    LegalHold.__tablename__: ("reason",),
}


def _as_seen(table: Table, row: dict[str, Any], reading: Reading) -> dict[str, Any]:
    for column in NAMING_COLUMNS.get(table.name, ()):
        row[column] = _masked(row[column], reading)
    return row


def _masked(value: Any, reading: Reading) -> Any:
    if isinstance(value, str):
        return reading(value)
    if isinstance(value, list):
        return [_masked(item, reading) for item in value]
    if isinstance(value, dict):
        return {key: _masked(item, reading) for key, item in value.items()}
    return value


def rows_about(record_type: RecordType, person_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of the bound setting's schema that mentions the person, by table."""
    target = _target(record_type)
    is_child = record_type is RecordType.CHILD
    view = _own_view(person_id, frozenset({person_id})) if is_child else None
    naming = _naming(person_id) if is_child else None
    reading = view.mask if view is not None else _adults_reading(record_type, person_id)
    found: dict[str, list[dict[str, Any]]] = {}
    for table in TenantModel.metadata.sorted_tables:
        conditions = [
            *_pointing_at(table, target, person_id),
            *_also_about(table, record_type, person_id, view, naming),
        ]
        if not conditions:
            continue
        rows = db.session.execute(select(table).where(or_(*conditions))).mappings().all()
        if rows:
            found[table.name] = [_as_seen(table, plain_row(row), reading) for row in rows]
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


def _pictured(record_type: RecordType, rows: dict[str, list[dict[str, Any]]]) -> list[dict]:
    """The photos whose pictures the export holds: a child's, as their own view shows
    them. An adult's lists the photos they uploaded (the rows name them), but a picture
    is of children: it is in their exports, never in an adult's."""
    return rows.get(Photo.__tablename__, []) if record_type is RecordType.CHILD else []


def export_subject(record_type: RecordType, person_id: int, *, by: User) -> Path:
    """Write the person's export to a temporary ZIP file and audit it; returns its path
    (the caller sends it and removes it)."""
    rows = rows_about(record_type, person_id)
    photos = _pictured(record_type, rows)
    if waiting := [photo["id"] for photo in photos if photo["state"] == PhotoState.WAITING]:
        for photo_id in waiting:  # exported as the stored JPEG, never the uploaded bytes
            make_ready(photo_id)
        rows = rows_about(record_type, person_id)
    document = {
        "format": "learning-journals/subject-access",
        "setting": current_setting().name,
        "record_type": record_type.value,
        "person_id": person_id,
        "person": _name_of(record_type, person_id),
        "made_at": clock.now().isoformat(),
        "tables": rows,
    }
    descriptor, name = tempfile.mkstemp(prefix="subject-access-", suffix=".zip")
    path = Path(name)
    with open(descriptor, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("subject-access.json", json.dumps(document, ensure_ascii=False, indent=1))
        out.writestr("subject-access.pdf", _pdf(document))
        folder = setting_folder()
        for photo in _pictured(record_type, rows):
            source = folder / photo["file_name"]
            if source.is_file():
                out.write(source, f"photos/{photo['file_name']}")
    audit.record(
        "export.subject_access",
        actor=by,
        record=record_type.value,
        **audited_about(record_type, person_id),
        tables=len(rows),
        rows=sum(len(found) for found in rows.values()),
    )
    return path


def _pdf(document: dict[str, Any]) -> bytes:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        title = f"Subject-access export: {document['person']}"
        build_pdf(file.name, title, document["setting"], _flowables(document))
        return Path(file.name).read_bytes()


# What each kind of person is to the setting, as the export's first lines say it.
WHO = {
    RecordType.CHILD: "child",
    RecordType.PARENT: "parent or carer",
    RecordType.STAFF: "member of staff",
}


def _name_of(record_type: RecordType, person_id: int) -> str:
    person = Child if record_type is RecordType.CHILD else User
    return db.session.get_one(person, person_id).full_name


def _flowables(document: dict[str, Any]) -> Iterator[object]:
    name, made_at = document["person"], datetime.fromisoformat(document["made_at"])
    yield pdf_paragraph(f"Everything {document['setting']} holds about {name}", "Title")
    yield pdf_paragraph(
        f"{name}, {WHO[RecordType(document['record_type'])]} (record {document['person_id']}), "
        f"as held on {local_time(made_at, with_zone=True)}",
        "Normal",
    )
    for table, rows in document["tables"].items():
        yield Spacer(1, 12)
        yield pdf_paragraph(f"{table} ({len(rows)})", "Heading2")
        for row in rows:
            line = "; ".join(f"{key}: {value}" for key, value in row.items())
            yield pdf_paragraph(line, "BodyText")
