"""A setting leaves the service: everything it holds exported, then everything deleted.

``export_setting(slug, out)`` writes one ZIP: every row of every table of the setting's
schema (``tables/<table>.jsonl``, secrets named but withheld), each child's journal in
the leaving pack's formats (``journals/<child id>/journal.pdf``, ``journal.json``,
``photos.zip``, as the setting's manager sees it) and every media file (``media/``), and
records the export in the setting's audit log.

``delete_setting(slug)`` marks the registry row deleted (the slug is never reused), drops
the schema, writes one erasure-ledger entry (so restoring an older backup can be refused:
``ledger.replay`` raises ``SettingLeftService``), ends the setting's sessions and removes
its Redis keys and its media folder. Nightly backups still holding it age out within
their 30 days. Running it again after a crash finishes what was left.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select, text, update

from app import clock
from app.auth import audit
from app.auth.models import Role, User
from app.auth.sessions import end_all_sessions_of_setting
from app.extensions import db
from app.journal.photo_processing import make_setting_ready
from app.journal.storage import waiting_folder
from app.people.models import Child
from app.retention import ledger
from app.retention.packs import FORMATS, write_journal
from app.retention.purge import forget_rate_limits
from app.retention.subject_access import plain_row
from tenants.binding import any_status_context, bind_schema
from tenants.migrating import check_up_to_date
from tenants.models import Setting, SettingStatus
from tenants.registry import forget_cached, setting_by_slug
from tenants.schema import TenantModel


class NoSuchSetting(LookupError):
    """No setting (or only a deleted one) has that slug."""


@dataclass
class Exported:
    tables: int = 0
    rows: int = 0
    journals: int = 0
    files: int = 0


def _media_folder(slug: str) -> Path:
    return Path(current_app.config["LJ"].MEDIA_ROOT) / slug


def export_setting(slug: str, out: Path, *, replace: bool = False) -> Exported:
    """Write everything of the setting to the ZIP file ``out``.

    It is written under a temporary name beside ``out`` and renamed to ``out`` only once
    whole: an export that fails leaves ``out`` as it was (no file, or the one it
    replaces), so nothing half-written is ever taken for the whole. An existing ``out``
    is replaced only if asked (``replace``), else ``FileExistsError`` and nothing is
    exported: an earlier export may be all that is left of a deleted setting. A schema
    behind the code's migrations is not read (``SchemaBehind``): migrate it first."""
    if out.exists() and not replace:
        raise FileExistsError(out)
    with tempfile.NamedTemporaryFile(
        dir=out.parent, prefix=f".{out.name}.", suffix=".partial", delete=False
    ) as partial:
        written = Path(partial.name)
    try:
        with any_status_context(slug) as setting:
            # The models read what the migrations add: a schema behind them is not read.
            check_up_to_date(db.session.connection(), setting.schema_name)
            summary = _write_export(slug, written)
            _put_in_place(written, out, replace=replace)
            db.session.commit()  # the audit row, once the file is in place
        return summary
    finally:
        written.unlink(missing_ok=True)


def _put_in_place(written: Path, out: Path, *, replace: bool) -> None:
    if replace:
        written.replace(out)
    else:
        # A link fails if ``out`` appeared meanwhile: never a silent overwrite.
        out.hardlink_to(written)


def _write_export(slug: str, out: Path) -> Exported:
    """Write the bound setting ``slug`` to ``out`` and record the export (not committed)."""
    summary = Exported()
    with (
        tempfile.TemporaryDirectory() as work,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        make_setting_ready()  # photos leave as stored JPEGs, never as the uploaded bytes
        for table in TenantModel.metadata.sorted_tables:
            lines = (
                json.dumps(plain_row(row), ensure_ascii=False)
                for row in db.session.execute(select(table)).mappings()
            )
            body = "\n".join(lines)
            archive.writestr(f"tables/{table.name}.jsonl", body + "\n" if body else "")
            summary.tables += 1
            summary.rows += body.count("\n") + 1 if body else 0
        summary.journals = _export_journals(archive, Path(work))
        folder = _media_folder(slug)
        for path in sorted(folder.rglob("*")) if folder.exists() else []:
            if path.is_file() and "packs" not in path.relative_to(folder).parts:
                archive.write(path, f"media/{path.relative_to(folder)}")
                summary.files += 1
        # The setting's managers see in their audit log that everything left with the
        # operator (no actor: not one of their accounts).
        audit.record("export.setting", **asdict(summary))
    return summary


def _export_journals(archive: zipfile.ZipFile, work: Path) -> int:
    manager = db.session.scalar(select(User).where(User.role == Role.MANAGER).order_by(User.id))
    if manager is None:
        return 0
    children = list(db.session.scalars(select(Child).order_by(Child.id)))
    for child in children:
        files = {kind: work / f"{child.id}.{kind}" for kind in FORMATS}
        write_journal(child, manager, files)
        names = {"pdf": "journal.pdf", "json": "journal.json", "zip": "photos.zip"}
        for kind, path in files.items():
            archive.write(path, f"journals/{child.id}/{names[kind]}")
            path.unlink()
    return len(children)


def delete_setting(slug: str) -> dict[str, int]:
    """Delete the setting for good; returns what went (tables, rows, files)."""
    setting = setting_by_slug(slug)
    if setting is None:
        raise NoSuchSetting(slug)
    schema_name = setting.schema_name
    counts = {"tables": 0, "rows": 0}
    with db.engine.begin() as connection:
        if setting.status is not SettingStatus.DELETED:
            bind_schema(connection, schema_name)
            for table in TenantModel.metadata.sorted_tables:
                counts["tables"] += 1
                counts["rows"] += connection.scalar(select(func.count()).select_from(table)) or 0
            connection.execute(
                update(Setting).where(Setting.slug == slug).values(status=SettingStatus.DELETED)
            )
            quoted = connection.dialect.identifier_preparer.quote_identifier(schema_name)
            connection.execute(text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))
            ledger.append(
                ledger.LedgerEntry(
                    setting=slug,
                    record_type=ledger.RecordType.SETTING,
                    reason=ledger.PurgeReason.OPERATOR,
                    at=clock.now(),
                    counts=counts,
                )
            )
    db.session.remove()
    forget_cached()
    end_all_sessions_of_setting(slug)
    forget_rate_limits(slug)
    folder = _media_folder(slug)
    counts["files"] = (
        sum(1 for path in folder.rglob("*") if path.is_file()) if folder.exists() else 0
    )
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(waiting_folder(slug), ignore_errors=True)  # uploads never processed
    return counts
