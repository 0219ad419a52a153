"""Every restore replays the erasure ledger: nobody purged after the backup comes back."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.journal.models import Observation, Photo
from app.people.models import Child, ParentLink
from app.retention.ledger import PurgeReason
from app.retention.purge import purge_children
from tenants.binding import bind_schema, tenant_context
from tenants.slugs import schema_name_for
from tests.helpers.journal import observe, photo_bytes


def purge_child(service, slug: str, child_id: int) -> None:
    """The retention purge of one child (rows, names in group observations, files)."""
    with service.app.app_context(), tenant_context(slug):
        purge_children([child_id], by=None, reason=PurgeReason.RETENTION)
        db.session.commit()


def group_observation(service, family) -> None:
    """A and B together, B named in the text, and a photo showing only B."""
    observe(
        service.app,
        family,
        [family.child_a_id, family.child_b_id],
        "Ada and Barty Quince built a bridge together.",
        photos=[(photo_bytes(), "Barty on the bridge", [family.child_b_id])],
    )


def media_files(service, slug: str) -> set[str]:
    return {path.name for path in (service.media_root / slug).iterdir()}


def texts(service, slug: str) -> str:
    with service.app.app_context(), db.engine.begin() as connection:
        bind_schema(connection, schema_name_for(slug))
        rows = connection.execute(select(Observation.text)).scalars().all()
        captions = connection.execute(select(Photo.caption)).scalars().all()
    return " ".join([*rows, *captions])


def rows_of_child(service, slug: str, child_id: int) -> tuple[int, int]:
    """The child's row and parent links in the setting's schema (active or suspended)."""
    with service.app.app_context(), db.engine.begin() as connection:
        bind_schema(connection, schema_name_for(slug))
        children = connection.scalar(select(func.count()).where(Child.id == child_id))
        links = connection.scalar(select(func.count()).where(ParentLink.child_id == child_id))
        return children, links


def test_a_child_purged_after_the_backup_stays_gone_after_restoring_the_setting(service):
    family = service.family("sunnyside")
    group_observation(service, family)
    service.cli("backups", "run")
    purge_child(service, "sunnyside", family.child_b_id)
    files_after_purge = media_files(service, "sunnyside")

    result = service.restore(
        "--setting",
        "sunnyside",
        "--confirm",
        "sunnyside",
    )

    assert result.exit_code == 0, result.output
    assert "1 purges replayed" in result.output
    assert rows_of_child(service, "sunnyside", family.child_b_id) == (0, 0)
    assert rows_of_child(service, "sunnyside", family.child_a_id) == (1, 1)
    assert "Barty" not in texts(service, "sunnyside") and "Quince" not in texts(
        service, "sunnyside"
    )
    assert "Ada" in texts(service, "sunnyside")
    assert media_files(service, "sunnyside") == files_after_purge, "B's photo came back"


def test_a_child_purged_after_the_backup_stays_gone_in_a_copy_beside_the_setting(service):
    family = service.family("sunnyside")
    service.cli("backups", "run")
    purge_child(service, "sunnyside", family.child_b_id)

    result = service.restore(
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
    group_observation(service, family)
    service.cli("backups", "run")
    purge_child(service, "sunnyside", family.child_b_id)
    files_after_purge = media_files(service, "sunnyside")
    database = service.database_url.rsplit("/", 1)[-1]

    result = service.restore("--confirm", database)

    assert result.exit_code == 0, result.output
    assert "1 purges replayed" in result.output
    assert rows_of_child(service, "sunnyside", family.child_b_id) == (0, 0)
    assert rows_of_child(service, "sunnyside", family.child_a_id) == (1, 1)
    assert "Barty" not in texts(service, "sunnyside") and "Quince" not in texts(
        service, "sunnyside"
    )
    assert media_files(service, "sunnyside") == files_after_purge, "B's photo came back"
