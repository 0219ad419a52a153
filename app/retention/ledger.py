"""The erasure ledger: what was purged, kept outside the database so a restore can redo it.

A backup restored from before a purge brings the purged people back. The ledger is how
they go again: every purge appends one JSON line to the file ``ERASURE_LEDGER`` (not in
the database, so restoring the database does not restore the ledger to an older state),
and after a restore ``replay`` re-applies every purge recorded since the backup was made.

An entry holds the setting's slug, the record type, the id of the person purged (if
any), the purged row ids per table, counts and the time, and never a name, an email or
any text typed by a person: its fields are ids, counts and fixed words, checked when the
entry is made.

One line per purge::

    {"at": "2026-12-01T09:00:00+00:00", "counts": {"children": 1, "files": 40, ...},
     "id": "9f1c...", "reason": "retention", "record_type": "child",
     "rows": {"children": [42], "observations": [7, 9], ...},
     "setting": "sunnyside", "subject_id": 42}

The API:

- ``LedgerEntry.of_current_setting(record_type, rows=..., ...)`` makes an entry for the
  bound setting; ``append(entry)`` writes it now (append-only, under an exclusive
  ``flock``, fsynced); ``append_at_commit(entry)`` writes it when the current database
  transaction commits (what a purge uses: one entry per committed purge).
- ``entries()`` reads every entry, oldest first; ``entries_for(slug, since)`` those of one
  setting at or after ``since``.
- ``replay(slug, since)`` re-applies to the setting's (restored) schema every purge of
  ``entries_for(slug, since)``, in order, one transaction each, and returns how many:
  a purge of people runs the same purge operation again on their ids (``PURGES``), which
  also scrubs their names from the group observations that remain (and a purge of expired
  leaving packs deletes their files again, back with the media); then any row the
  entry lists that is still there is deleted by id. Replaying twice changes nothing the
  second time. A setting that left the service (record type ``setting``) raises
  ``SettingLeftService``: it must not be restored at all. The setting is bound whatever
  its status, so a restore may keep it suspended while it replays.

The entry is written just before the database commit, not after it: if the commit then
fails, the ledger holds a purge that did not happen, and a replay would carry out a purge
that was due anyway; the other order could lose a committed purge to a crash, and a
restore would then bring the person back.
"""

from __future__ import annotations

import enum
import fcntl
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from pkgutil import resolve_name

from flask import current_app
from sqlalchemy import delete, event
from sqlalchemy.orm import Session

from app import clock
from app.extensions import db
from app.labels import LabelledEnum
from app.storage.durable import fsync_folder
from tenants.binding import any_status_context, current_setting
from tenants.schema import TenantModel
from tenants.slugs import SLUG_PATTERN

log = logging.getLogger(__name__)

_PENDING = "retention_ledger_pending"  # session.info: entries to write at commit
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # a table name or a count's name


class RecordType(enum.StrEnum):
    """What a purge removed: a person with everything only theirs, or expired rows."""

    CHILD = "child"
    PARENT = "parent"
    STAFF = "staff"
    AUDIT_LOG = "audit_log"
    ACCESS_LOG = "access_log"
    LINKS = "links"  # one-time links (invitations, resets)
    MESSAGES = "messages"  # sent outbox messages
    EXPORTS = "exports"  # leaving packs and subject-access exports
    SETTING = "setting"  # a whole setting left the service


class PurgeReason(LabelledEnum):
    """Why a purge ran; the label says it after "purged on <date>"."""

    # its retention period ended (the retention-purge job)
    RETENTION = "retention", "at the end of their retention period"
    MANAGER = "manager", "by a manager"  # a manager purged it now
    OPERATOR = "operator", "when the setting left the service"  # the operator deleted it


# A purge of people (or of leaving packs, whose files a restore brings back with the
# media), re-applied on replay: record type -> the table listing what was purged and the
# operation ("module:function") that removes it by id, files too, in the bound setting
# without writing a new entry (it flushes; replay commits).
PURGES: dict[RecordType, tuple[str, str]] = {
    RecordType.CHILD: ("children", "app.retention.purge:remove_children"),
    RecordType.PARENT: ("users", "app.retention.purge:remove_accounts"),
    RecordType.STAFF: ("users", "app.retention.purge:remove_accounts"),
    RecordType.EXPORTS: ("leaving_packs", "app.retention.packs:remove_packs"),
}


class LedgerCorrupt(RuntimeError):
    """A line of the ledger is not an entry (and not a torn last line)."""


class SettingLeftService(RuntimeError):
    """The ledger says the setting was deleted: restoring it would bring it back."""


def _checked_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a table or count name: {key!r}")
    return key


def _checked_ids(ids: object) -> tuple[int, ...]:
    if not all(type(value) is int for value in ids):  # type: ignore[attr-defined]
        raise ValueError("row ids must be whole numbers")
    return tuple(sorted(ids))  # type: ignore[call-overload]


@dataclass(frozen=True)
class LedgerEntry:
    """One purge. Every field is an id, a count, a time or a fixed word: never personal data."""

    setting: str
    record_type: RecordType
    reason: PurgeReason
    at: datetime
    subject_id: int | None = None
    rows: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if not SLUG_PATTERN.fullmatch(self.setting):
            raise ValueError(f"not a setting's slug: {self.setting!r}")
        object.__setattr__(self, "record_type", RecordType(self.record_type))
        object.__setattr__(self, "reason", PurgeReason(self.reason))
        if self.subject_id is not None and type(self.subject_id) is not int:
            raise ValueError("subject_id must be a whole number")
        if self.at.tzinfo is None:
            raise ValueError("the time of a purge must carry its time zone")
        rows = {_checked_key(table): _checked_ids(ids) for table, ids in self.rows.items()}
        object.__setattr__(self, "rows", rows)
        counts = {_checked_key(name): int(count) for name, count in self.counts.items()}
        object.__setattr__(self, "counts", counts)
        if not re.fullmatch(r"[0-9a-f]{32}", self.id):
            raise ValueError("an entry's id is 32 hex digits")

    @classmethod
    def of_current_setting(
        cls,
        record_type: RecordType,
        *,
        reason: PurgeReason,
        subject_id: int | None = None,
        rows: Mapping[str, object] | None = None,
        counts: Mapping[str, int] | None = None,
    ) -> LedgerEntry:
        """An entry for the bound setting, now. Counts default to the number of rows
        per table; ``counts`` adds to or overrides them (e.g. ``files``)."""
        listed = {table: tuple(ids) for table, ids in (rows or {}).items()}  # type: ignore[call-overload]
        all_counts = {table: len(ids) for table, ids in listed.items()} | dict(counts or {})
        return cls(
            setting=current_setting().slug,
            record_type=record_type,
            reason=reason,
            at=clock.now(),
            subject_id=subject_id,
            rows=listed,
            counts=all_counts,
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "at": self.at.isoformat(),
                "setting": self.setting,
                "record_type": self.record_type.value,
                "reason": self.reason.value,
                "subject_id": self.subject_id,
                "rows": {table: list(ids) for table, ids in self.rows.items()},
                "counts": dict(self.counts),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str) -> LedgerEntry:
        data = json.loads(line)
        return cls(
            setting=data["setting"],
            record_type=RecordType(data["record_type"]),
            reason=PurgeReason(data["reason"]),
            at=datetime.fromisoformat(data["at"]),
            subject_id=data.get("subject_id"),
            rows={table: tuple(ids) for table, ids in data.get("rows", {}).items()},
            counts=data.get("counts", {}),
            id=data["id"],
        )


def ledger_path() -> Path:
    return current_app.config["LJ"].ERASURE_LEDGER


# ---------------------------------------------------------------- writing


def append(entry: LedgerEntry, path: Path | None = None) -> None:
    """Append ``entry`` as one line and fsync it before returning.

    An exclusive ``flock`` keeps lines of concurrent writers (web workers, Celery
    workers, the CLI) whole. The bytes of a line torn by a crash (never a whole entry,
    so never read as one) are cut off first, so the new entry starts a line of its own.
    """
    path = path or ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        _cut_torn_line(descriptor)
        _write_all(descriptor, (entry.to_json() + "\n").encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)  # releases the flock
    if created:
        fsync_folder(path.parent)  # the new file's name is durable too


def _cut_torn_line(descriptor: int, chunk: int = 64 * 1024) -> None:
    """Truncate the file after its last newline, if anything follows it."""
    size = end = os.fstat(descriptor).st_size
    while end > 0:
        start = max(0, end - chunk)
        newline = os.pread(descriptor, end - start, start).rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    if end < size:
        os.ftruncate(descriptor, end)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def append_at_commit(entry: LedgerEntry) -> None:
    """Write ``entry`` when the current database transaction commits (just before it)."""
    session = db.session()
    session.connection()  # the entry joins a transaction that is surely open
    session.info.setdefault(_PENDING, []).append(entry)


@event.listens_for(Session, "before_commit")
def _write_pending_entries(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's end: the entries wait for the outer commit
    pending = session.info.pop(_PENDING, [])
    if pending:
        session.flush()  # a flush that fails stops the commit before anything is written
        for entry in pending:
            append(entry)


@event.listens_for(Session, "after_rollback")
def _drop_pending_entries(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint rolled back: the outer transaction's entries still stand
    session.info.pop(_PENDING, None)


# ---------------------------------------------------------------- reading


def entries(path: Path | None = None) -> Iterator[LedgerEntry]:
    """Every entry, oldest first. A torn last line (a crash mid-write) is skipped."""
    path = path or ledger_path()
    if not path.exists():
        return
    with path.open("rb") as file:
        lines = file.read().split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            yield LedgerEntry.from_json(raw.decode())
        except (ValueError, KeyError, TypeError) as error:
            if number == len(lines):  # no newline after it: the write never finished
                log.warning("erasure ledger %s: torn last line skipped", path)
                continue
            raise LedgerCorrupt(f"{path}, line {number}: {error}") from error


def entries_for(slug: str, since: datetime, path: Path | None = None) -> list[LedgerEntry]:
    """The entries of setting ``slug`` made at or after ``since``, oldest first."""
    return [entry for entry in entries(path) if entry.setting == slug and entry.at >= since]


# ---------------------------------------------------------------- replaying


def replay(slug: str, since: datetime) -> int:
    """Re-apply every purge of ``slug`` since ``since`` to its schema; returns how many.

    Call it after restoring the setting's schema from a backup made at ``since``.
    Each entry is re-applied in its own transaction, oldest first.
    """
    due = entries_for(slug, since)
    if any(entry.record_type is RecordType.SETTING for entry in due):
        raise SettingLeftService(f"setting '{slug}' left the service; do not restore it")
    if not due:
        return 0
    with any_status_context(slug):
        for entry in due:
            reapply(entry)
            db.session.commit()
    return len(due)


def reapply(entry: LedgerEntry) -> None:
    """Purge again, in the bound setting, what ``entry`` records (flushes; caller commits)."""
    if entry.record_type in PURGES:
        table_name, operation = PURGES[entry.record_type]
        resolve_name(operation)(list(entry.rows.get(table_name, ())))
    for table_name, ids in entry.rows.items():
        table = TenantModel.metadata.tables.get(table_name)
        if table is None or "id" not in table.c or not ids:
            continue  # a table a later version dropped: nothing of it can come back
        db.session.execute(delete(table).where(table.c.id.in_(ids)))
    db.session.flush()
