"""The erasure ledger: one fsynced JSON line per purge, outside the database, replayable."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app import clock
from app.auth.models import AuditEntry
from app.extensions import db
from app.retention import ledger
from app.retention.ledger import LedgerEntry, PurgeReason, RecordType
from tests.helpers.people import inside

MOMENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _entry(slug: str = "sunnyside", **overrides: object) -> LedgerEntry:
    values: dict[str, object] = {
        "setting": slug,
        "record_type": RecordType.CHILD,
        "reason": PurgeReason.RETENTION,
        "at": MOMENT,
        "subject_id": 42,
        "rows": {"children": (42,), "observations": (9, 7)},
        "counts": {"children": 1, "observations": 2, "files": 6},
    }
    values.update(overrides)
    return LedgerEntry(**values)  # type: ignore[arg-type]


def test_each_purge_is_one_json_line_read_back_as_written(tmp_path: Path):
    path = tmp_path / "ledger" / "erasure.jsonl"
    first, second = _entry(), _entry(subject_id=43, rows={"children": (43,)})
    ledger.append(first, path)
    ledger.append(second, path)

    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0]) == {
        "id": first.id,
        "at": "2026-12-01T09:00:00+00:00",
        "setting": "sunnyside",
        "record_type": "child",
        "reason": "retention",
        "subject_id": 42,
        "rows": {"children": [42], "observations": [7, 9]},
        "counts": {"children": 1, "observations": 2, "files": 6},
    }
    assert list(ledger.entries(path)) == [first, second]
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "overrides",
    [
        {"rows": {"children": ("Ada Okafor",)}},
        {"rows": {"Ada Okafor": (1,)}},
        {"counts": {"ada@example.org": 1}},
        {"setting": "Ada Okafor"},
        {"subject_id": "ada@example.org"},
        {"record_type": "Ada"},
        {"reason": "Ada asked"},
        {"at": datetime(2026, 12, 1, 9, 0)},
    ],
)
def test_an_entry_holds_ids_counts_and_fixed_words_never_a_name_or_email(overrides):
    with pytest.raises(ValueError):
        _entry(**overrides)


def test_entries_for_gives_one_settings_entries_since_a_moment(tmp_path: Path):
    path = tmp_path / "erasure.jsonl"
    old = _entry(at=MOMENT - timedelta(days=2))
    mine = _entry(at=MOMENT)
    other = _entry("elsewhere", at=MOMENT)
    later = _entry(at=MOMENT + timedelta(hours=1))
    for entry in (old, mine, other, later):
        ledger.append(entry, path)

    assert ledger.entries_for("sunnyside", MOMENT, path) == [mine, later]
    assert ledger.entries_for("elsewhere", MOMENT, path) == [other]
    assert ledger.entries_for("nobody", MOMENT - timedelta(days=9), path) == []


def test_a_line_torn_by_a_crash_is_skipped_and_the_next_entry_starts_its_own_line(
    tmp_path: Path,
):
    path = tmp_path / "erasure.jsonl"
    whole = _entry()
    ledger.append(whole, path)
    with path.open("a") as file:
        file.write(_entry().to_json()[:30])  # the process died mid-write
    assert list(ledger.entries(path)) == [whole]

    after = _entry(subject_id=44)
    ledger.append(after, path)
    assert list(ledger.entries(path)) == [whole, after]


def test_a_damaged_line_in_the_middle_is_refused_not_skipped(tmp_path: Path):
    path = tmp_path / "erasure.jsonl"
    path.write_text(_entry().to_json() + "\nnot an entry\n" + _entry().to_json() + "\n")
    with pytest.raises(ledger.LedgerCorrupt, match="line 2"):
        list(ledger.entries(path))


def _append_many(path: str, writer: int) -> None:
    for number in range(150):
        ledger.append(_entry(subject_id=writer * 1000 + number), Path(path))


def test_writers_in_several_processes_never_mix_their_lines(tmp_path: Path):
    path = tmp_path / "erasure.jsonl"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(str(path), n)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0

    subjects = [entry.subject_id for entry in ledger.entries(path)]
    assert sorted(subjects) == sorted(w * 1000 + n for w in range(4) for n in range(150))


def _audit_rows() -> list[int]:
    return list(db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def _add_audit_rows(count: int) -> list[int]:
    rows = [AuditEntry(at=clock.now(), event="signed_in", detail={}) for _ in range(count)]
    db.session.add_all(rows)
    db.session.flush()
    return [row.id for row in rows]


def _entries_of(app, slug: str) -> list[LedgerEntry]:
    with app.app_context():
        return ledger.entries_for(slug, MOMENT - timedelta(days=1))


def test_an_entry_written_at_commit_is_in_the_ledger_only_if_the_commit_happens(app, make_setting):
    slug = make_setting().slug
    with inside(app, slug):
        ids = _add_audit_rows(1)
        ledger.append_at_commit(
            LedgerEntry.of_current_setting(
                RecordType.AUDIT_LOG, reason=PurgeReason.RETENTION, rows={"audit_log": ids}
            )
        )
        db.session.rollback()
    assert _entries_of(app, slug) == []

    with inside(app, slug):
        ledger.append_at_commit(
            LedgerEntry.of_current_setting(
                RecordType.AUDIT_LOG, reason=PurgeReason.RETENTION, rows={"audit_log": [5, 3]}
            )
        )
        db.session.commit()
    [written] = _entries_of(app, slug)
    assert written.setting == slug and written.rows == {"audit_log": (3, 5)}
    assert written.counts == {"audit_log": 2}


def test_replay_purges_again_the_rows_a_restore_brought_back(app, make_setting):
    slug = make_setting().slug
    with inside(app, slug):
        kept_before = _audit_rows()
        purged = _add_audit_rows(3)
        db.session.commit()
    with inside(app, slug):
        ledger.append_at_commit(
            LedgerEntry.of_current_setting(
                RecordType.AUDIT_LOG, reason=PurgeReason.RETENTION, rows={"audit_log": purged}
            )
        )
        # The purge itself; the rows stay here, as if a backup had just been restored.
        db.session.commit()

    with app.app_context():
        assert ledger.replay(slug, MOMENT - timedelta(days=1)) == 1
    with inside(app, slug):
        assert _audit_rows() == kept_before
    with app.app_context():  # twice: nothing left to purge, nothing fails
        assert ledger.replay(slug, MOMENT - timedelta(days=1)) == 1
    with inside(app, slug):
        assert _audit_rows() == kept_before
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == len(kept_before)


def test_replay_refuses_to_bring_back_a_setting_that_left_the_service(app, tmp_path):
    with app.app_context():
        ledger.append(_entry("gone-away", record_type=RecordType.SETTING, subject_id=None, rows={}))
        with pytest.raises(ledger.SettingLeftService):
            ledger.replay("gone-away", MOMENT - timedelta(days=1))
