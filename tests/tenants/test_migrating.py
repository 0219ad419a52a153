"""`tenants migrate` and `tenants status` over many settings: behind ones upgraded in parallel."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import text

from app.extensions import db
from bench.tenancy import (
    BENCH_COLUMN,
    migrations_with_bench_revision,
    remove_bench_revision,
    schemas_with_bench_column,
)
from tenants.migrating import (
    RevisionMoved,
    read_revisions,
    setting_head_revision,
    upgrade_setting_schema,
)

BENCH_REVISION_ID = "bench0add0col"


def _schemas_with_bench_column() -> set[str]:
    return set(schemas_with_bench_column(db.engine))


def _set_revision(schema_name: str, revision: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(
            text(f'UPDATE "{schema_name}".alembic_version SET version_num = :v'), {"v": revision}
        )


@contextmanager
def one_revision_more(app: Flask) -> Iterator[None]:
    """The setting chain with one add-column revision more; every schema back at the real
    head afterwards (the test database is shared by the whole run)."""
    head = setting_head_revision()
    try:
        with migrations_with_bench_revision():
            yield
    finally:
        with app.app_context():
            remove_bench_revision(db.engine, head)


def test_migrate_upgrades_behind_schemas_in_parallel_and_a_failure_stops_only_its_own(
    app, make_setting
):
    behind = [make_setting() for _ in range(4)]
    broken = make_setting()
    with app.app_context():
        # A revision we do not have: this schema cannot be upgraded.
        _set_revision(broken.schema_name, "ffffffffffff")
    try:
        with one_revision_more(app):
            migrate = ["tenants", "migrate", "--connections", "3"]
            result = app.test_cli_runner().invoke(args=migrate)
            with app.app_context():
                upgraded = _schemas_with_bench_column()
    finally:
        with app.app_context():
            _set_revision(broken.schema_name, setting_head_revision())
    assert result.exit_code == 1, result.output
    assert {setting.schema_name for setting in behind} <= upgraded
    assert broken.schema_name not in upgraded
    for setting in behind:
        assert f"{setting.slug}: up to date" in result.output
    assert f"failed: {broken.slug}: " in result.output
    assert "1 failed." in result.output


def test_status_lists_each_settings_revision_and_counts_those_behind(app, make_setting):
    current, behind = make_setting(), make_setting()
    head = setting_head_revision()
    with app.app_context():
        _set_revision(behind.schema_name, "0123456789ab")
    try:
        result = app.test_cli_runner().invoke(args=["tenants", "status"])
    finally:
        with app.app_context():
            _set_revision(behind.schema_name, head)
    assert result.exit_code == 1, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines() if line}
    assert lines[current.slug] == ["active", head, "up", "to", "date"]
    assert lines[behind.slug] == ["active", "0123456789ab", "BEHIND"]
    assert "1 behind" in result.output.splitlines()[-1]

    result = app.test_cli_runner().invoke(args=["tenants", "status"])
    assert result.exit_code == 0, result.output
    assert ", 0 behind;" in result.output


def test_a_schema_whose_migration_fails_keeps_nothing_of_it_and_the_others_are_upgraded(
    app, make_setting
):
    good = [make_setting() for _ in range(3)]
    clashing = make_setting()
    with app.app_context(), db.engine.begin() as connection:
        # The column the new revision adds is there already: its ADD COLUMN fails.
        connection.execute(
            text(f'ALTER TABLE "{clashing.schema_name}".users ADD COLUMN {BENCH_COLUMN} text')
        )
    head = setting_head_revision()
    with one_revision_more(app):
        result = app.test_cli_runner().invoke(args=["tenants", "migrate", "--connections", "2"])
        with app.app_context():
            fleet = read_revisions(db.engine)
            new_head = fleet.setting_head
    revisions = {setting.slug: setting.revision for setting in fleet.settings}
    assert result.exit_code == 1, result.output
    assert f"failed: {clashing.slug}: " in result.output
    assert "DuplicateColumn" in result.output
    assert revisions[clashing.slug] == head  # its transaction was rolled back whole
    assert all(revisions[setting.slug] == new_head != head for setting in good)


def test_a_schema_moved_by_another_migrator_is_refused_and_left_as_it_was(app, make_setting):
    setting = make_setting()
    read_at = setting_head_revision()  # one behind once the copy has its revision more
    with one_revision_more(app), app.app_context():
        # Read at `read_at`, but another migrator has moved it on meanwhile.
        _set_revision(setting.schema_name, "0123456789ab")
        try:
            with pytest.raises(RevisionMoved), db.engine.begin() as connection:
                upgrade_setting_schema(connection, setting.schema_name, read_at)
            assert setting.schema_name not in _schemas_with_bench_column()
        finally:
            _set_revision(setting.schema_name, read_at)
