"""The ``retention-purge`` job: every night, purge what is past its retention period.

For every active setting (``run_each_setting``: a failure in one is recorded and the
others go on), it purges archived children, staff and parents past their purge date
and not on legal hold, then expired log rows, one-time links, sent emails and leaving packs (their
files through the deletion queue), in batches of
``BATCH_SIZE`` with one transaction (and one erasure-ledger entry) per batch, the words
naming the children found with one scan for them all. What is
due is computed from the database each time, so a second run finds nothing to do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.sql.expression import ColumnElement

from app.auth.models import AuditEntry, OneTimeLink
from app.extensions import db
from app.journal.models import JournalAccess
from app.mail.models import OutboxMessage
from app.retention.archive import due_for_purge
from app.retention.ledger import LedgerEntry, PurgeReason, RecordType, append_at_commit
from app.retention.packs import purge_expired_packs
from app.retention.purge import Mentions, purge_accounts, purge_children
from app.retention.schedule import kept_since
from tenants.each_setting import EachSettingReport, run_each_setting
from tenants.models import Setting

BATCH_SIZE = 200
PEOPLE: tuple[tuple[RecordType, str], ...] = (
    (RecordType.CHILD, "children purged"),
    (RecordType.STAFF, "staff purged"),
    (RecordType.PARENT, "parents purged"),
)


def retention_purge() -> EachSettingReport:
    return run_each_setting(purge_setting)


def purge_setting(_: Setting) -> dict[str, int]:
    """Purge everything due in the bound setting, committing per batch."""
    counts: Counter[str] = Counter()
    # One scan for the words naming any child due, not one per batch (see Mentions).
    mentions = Mentions.of(due_for_purge(RecordType.CHILD))
    for record_type, label in PEOPLE:
        while ids := due_for_purge(record_type, limit=BATCH_SIZE):
            if record_type is RecordType.CHILD:
                purge_children(ids, by=None, reason=PurgeReason.RETENTION, mentions=mentions)
            else:
                purge_accounts(ids, record_type, by=None, reason=PurgeReason.RETENTION)
            db.session.commit()
            counts[label] += len(ids)
    for record_type, label, expired in EXPIRED_ROWS:
        counts[label] += _purge_rows(record_type, expired())
    counts["leaving packs purged"] += _purge_expired_packs()
    return {label: number for label, number in counts.items() if number}


def _purge_expired_packs() -> int:
    ids = purge_expired_packs()
    if ids:
        append_at_commit(
            LedgerEntry.of_current_setting(
                RecordType.EXPORTS, reason=PurgeReason.RETENTION, rows={"leaving_packs": ids}
            )
        )
        db.session.commit()
    return len(ids)


def _purge_rows(record_type: RecordType, condition: tuple[type, ColumnElement[bool]]) -> int:
    model, expired = condition
    total = 0
    while ids := list(
        db.session.scalars(select(model.id).where(expired).order_by(model.id).limit(BATCH_SIZE))
    ):
        db.session.execute(delete(model).where(model.id.in_(ids)))
        append_at_commit(
            LedgerEntry.of_current_setting(
                record_type, reason=PurgeReason.RETENTION, rows={model.__tablename__: ids}
            )
        )
        db.session.commit()
        total += len(ids)
    return total


def _old_audit_entries() -> tuple[type, ColumnElement[bool]]:
    return AuditEntry, AuditEntry.at < kept_since("log_retention_years")


def _old_journal_views() -> tuple[type, ColumnElement[bool]]:
    return JournalAccess, JournalAccess.at < kept_since("log_retention_years")


def _spent_links() -> tuple[type, ColumnElement[bool]]:
    spent_at = OneTimeLink.used_at.is_not(None) & (
        OneTimeLink.used_at < kept_since("link_retention_days")
    )
    return OneTimeLink, spent_at | (OneTimeLink.expires_at < kept_since("link_retention_days"))


def _sent_messages() -> tuple[type, ColumnElement[bool]]:
    return OutboxMessage, OutboxMessage.finished_at < kept_since("message_retention_days")


EXPIRED_ROWS: tuple[tuple[RecordType, str, Callable[[], tuple[type, ColumnElement[bool]]]], ...] = (
    (RecordType.AUDIT_LOG, "audit entries purged", _old_audit_entries),
    (RecordType.ACCESS_LOG, "journal views purged", _old_journal_views),
    (RecordType.LINKS, "links purged", _spent_links),
    (RecordType.MESSAGES, "sent emails purged", _sent_messages),
)
