"""Every restore replays the erasure ledger: nobody purged after the backup comes back."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from app.extensions import db
from app.people.models import Child, ParentLink
from app.retention.ledger import LedgerEntry, PurgeReason, RecordType, append_at_commit
from tenants.binding import bind_schema, tenant_context
from tenants.slugs import schema_name_for
from tests.backups.test_backups import only_backup


def purge_child(service, slug: str, child_id: int) -> None:
    """Delete the child (its links and tags go with it) and record it in the erasure ledger,
    in one transaction, as a purge does."""
    with service.app.app_context(), tenant_context(slug):
        db.session.execute(delete(Child).where(Child.id == child_id))
        append_at_commit(
            LedgerEntry.of_current_setting(
                RecordType.CHILD,
                reason=PurgeReason.RETENTION,
                subject_id=child_id,
                rows={"children": [child_id]},
            )
        )
        db.session.commit()


def rows_of_child(service, slug: str, child_id: int) -> tuple[int, int]:
    """The child's row and parent links in the setting's schema (active or suspended)."""
    with service.app.app_context(), db.engine.begin() as connection:
        bind_schema(connection, schema_name_for(slug))
        children = connection.scalar(select(func.count()).where(Child.id == child_id))
        links = connection.scalar(select(func.count()).where(ParentLink.child_id == child_id))
        return children, links


def test_a_child_purged_after_the_backup_stays_gone_after_restoring_the_setting(service):
    family = service.family("sunnyside")
    service.cli("backups", "run")
    purge_child(service, "sunnyside", family.child_b_id)

    result = service.cli(
        "backups",
        "restore",
        only_backup(service).name,
        "--setting",
        "sunnyside",
        "--confirm",
        "sunnyside",
    )

    assert result.exit_code == 0, result.output
    assert "1 purges replayed" in result.output
    assert rows_of_child(service, "sunnyside", family.child_b_id) == (0, 0)
    assert rows_of_child(service, "sunnyside", family.child_a_id) == (1, 1)


def test_a_child_purged_after_the_backup_stays_gone_in_a_copy_beside_the_setting(service):
    family = service.family("sunnyside")
    service.cli("backups", "run")
    purge_child(service, "sunnyside", family.child_b_id)

    result = service.cli(
        "backups",
        "restore",
        only_backup(service).name,
        "--setting",
        "sunnyside",
        "--as",
        "sunnyside-copy",
    )

    assert result.exit_code == 0, result.output
    assert rows_of_child(service, "sunnyside-copy", family.child_b_id) == (0, 0)
    assert rows_of_child(service, "sunnyside-copy", family.child_a_id) == (1, 1)


def test_a_child_purged_after_the_backup_stays_gone_after_restoring_everything(service):
    family = service.family("sunnyside")
    service.cli("backups", "run")
    purge_child(service, "sunnyside", family.child_b_id)
    database = service.database_url.rsplit("/", 1)[-1]

    result = service.cli("backups", "restore", only_backup(service).name, "--confirm", database)

    assert result.exit_code == 0, result.output
    assert "1 purges replayed" in result.output
    assert rows_of_child(service, "sunnyside", family.child_b_id) == (0, 0)
    assert rows_of_child(service, "sunnyside", family.child_a_id) == (1, 1)
