"""What the retention job purges when it next runs, rule by rule of the schedule.

The job (``workers.retention_purge``) purges these; the schedule page counts them, with
the periods a manager is about to save, to say how many records a shorter period makes
due tonight before it is saved. One definition for both, so the count is what the job does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.sql.expression import ColumnElement

from app.auth.models import AuditEntry, OneTimeLink
from app.extensions import db
from app.journal.models import JournalAccess
from app.mail.models import OutboxMessage
from app.retention.archive import count_due
from app.retention.ledger import RecordType
from app.retention.packs import expired_packs
from app.retention.schedule import kept_since, write_periods

# The rule of the schedule that sets when each kind of archived person is due.
PEOPLE_RULES: dict[RecordType, str] = {
    RecordType.CHILD: "retention_years_after_leaving",
    RecordType.STAFF: "staff_retention_years",
    RecordType.PARENT: "parent_retention_years",
}


@dataclass(frozen=True)
class ExpiredRows:
    """Rows of one table past their period: purged by the job in batches, no person's
    other records touched."""

    record_type: RecordType
    label: str  # in the job's summary
    rule: str  # the schedule's rule
    model: type
    expired: Callable[[], ColumnElement[bool]]


def _spent_links() -> ColumnElement[bool]:
    spent_at = OneTimeLink.used_at.is_not(None) & (
        OneTimeLink.used_at < kept_since("link_retention_days")
    )
    return spent_at | (OneTimeLink.expires_at < kept_since("link_retention_days"))


EXPIRED_ROWS: tuple[ExpiredRows, ...] = (
    ExpiredRows(
        RecordType.AUDIT_LOG,
        "audit entries purged",
        "log_retention_years",
        AuditEntry,
        lambda: AuditEntry.at < kept_since("log_retention_years"),
    ),
    ExpiredRows(
        RecordType.ACCESS_LOG,
        "journal views purged",
        "log_retention_years",
        JournalAccess,
        lambda: JournalAccess.at < kept_since("log_retention_years"),
    ),
    ExpiredRows(RecordType.LINKS, "links purged", "link_retention_days", OneTimeLink, _spent_links),
    ExpiredRows(
        RecordType.MESSAGES,
        "sent emails purged",
        "message_retention_days",
        OutboxMessage,
        lambda: OutboxMessage.finished_at < kept_since("message_retention_days"),
    ),
)


def due_now() -> Counter[str]:
    """How many records each rule of the schedule makes due now (people on legal hold,
    whom the job leaves alone, not counted)."""
    counts: Counter[str] = Counter()
    for record_type, rule in PEOPLE_RULES.items():
        counts[rule] += count_due(record_type)
    for rows in EXPIRED_ROWS:
        counted = select(func.count()).select_from(rows.model).where(rows.expired())
        counts[rows.rule] += db.session.scalar(counted) or 0
    counts["export_retention_days"] += (
        db.session.scalar(select(func.count()).select_from(expired_packs().subquery())) or 0
    )
    return counts


def newly_due(periods: Mapping[str, int]) -> dict[str, int]:
    """How many more records each of ``periods`` would make due now than the saved
    schedule does: counted with the periods written in a savepoint that is rolled back,
    so the count comes from the job's own conditions."""
    if not periods:
        return {}
    before = due_now()
    savepoint = db.session.begin_nested()
    try:
        write_periods(periods)
        after = due_now()
    finally:
        savepoint.rollback()
    return {key: max(0, after[key] - before[key]) for key in periods}
