"""The ``retention-purge`` job: every night, purge what is past its retention period.

For every active or suspended setting (``run_each_setting``: a failure in one is recorded and the
others go on), it purges archived children, staff and parents past their purge date
and not on legal hold, then expired log rows, one-time links, sent emails and leaving packs (their
files through the deletion queue), in batches of
``BATCH_SIZE`` with one transaction (and one erasure-ledger entry) per batch, the words
naming the children found with one scan for them all. What is
due is computed from the database each time, so a second run finds nothing to do.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import delete, select

from app.extensions import db
from app.retention.archive import due_for_purge
from app.retention.due import EXPIRED_ROWS, ExpiredRows
from app.retention.ledger import LedgerEntry, PurgeReason, RecordType, append_at_commit
from app.retention.packs import purge_expired_packs
from app.retention.purge import (
    parents_only_of,
    purge_accounts,
    purge_children,
    scan_mentions,
)
from tenants.each_setting import EachSettingReport, run_each_setting
from tenants.models import Setting

BATCH_SIZE = 200
PEOPLE: tuple[tuple[RecordType, str], ...] = (
    (RecordType.CHILD, "children purged"),
    (RecordType.STAFF, "staff purged"),
    (RecordType.PARENT, "parents purged"),
)


def retention_purge() -> EachSettingReport:
    # Suspended settings too: their records are due on the same day whether or not
    # anyone can sign in.
    return run_each_setting(purge_setting, suspended_too=True)


def purge_setting(setting: Setting) -> dict[str, int]:
    """Purge everything due in the bound setting, committing per batch."""
    with cyclic_collection_paused():
        return _purge_setting(setting)


@contextmanager
def cyclic_collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for one setting's purge.

    Every few hundred allocations it runs, and now and then it walks every object alive;
    a purge keeps hundreds of thousands alive for its whole run (the scan's words, the
    rows of a batch), so those walks were a fifth of the job's CPU
    (``bench/profile_purge.py``). What a purge leaves in cycles is small (14,000 objects
    for 2,000 children), and the collector, back on after each setting, takes it then.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _purge_setting(_: Setting) -> dict[str, int]:
    counts: Counter[str] = Counter()
    # One scan for the words naming any child due, not one per batch (see Mentions), and
    # any adult due or going with a child due.
    children = due_for_purge(RecordType.CHILD)
    mentions, adults = scan_mentions(
        children,
        [
            *parents_only_of(children),
            *due_for_purge(RecordType.STAFF),
            *due_for_purge(RecordType.PARENT),
        ],
    )
    for record_type, label in PEOPLE:
        while ids := due_for_purge(record_type, limit=BATCH_SIZE):
            if record_type is RecordType.CHILD:
                purge_children(
                    ids,
                    by=None,
                    reason=PurgeReason.RETENTION,
                    mentions=mentions,
                    adults=adults,
                )
            else:
                purge_accounts(
                    ids, record_type, by=None, reason=PurgeReason.RETENTION, mentions=adults
                )
            db.session.commit()
            counts[label] += len(ids)
    for rows in EXPIRED_ROWS:
        counts[rows.label] += _purge_rows(rows)
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


def _purge_rows(rows: ExpiredRows) -> int:
    model, expired = rows.model, rows.expired()
    total = 0
    while ids := list(
        db.session.scalars(select(model.id).where(expired).order_by(model.id).limit(BATCH_SIZE))
    ):
        db.session.execute(delete(model).where(model.id.in_(ids)))
        append_at_commit(
            LedgerEntry.of_current_setting(
                rows.record_type, reason=PurgeReason.RETENTION, rows={model.__tablename__: ids}
            )
        )
        db.session.commit()
        total += len(ids)
    return total
