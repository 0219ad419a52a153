"""Every restore replays the erasure ledger: nobody purged after the backup comes back."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.journal.models import Observation, Photo
from app.people.models import Child, ParentLink
from app.retention.ledger import PurgeReason
from app.retention.models import LeavingPack
from app.retention.purge import purge_children
from tenants.binding import bind_schema, tenant_context
from tenants.slugs import schema_name_for
from tests.helpers.clients import post_form
from tests.helpers.journal import observe, photo_bytes, signed_in


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


def test_a_leaving_pack_expired_after_the_backup_leaves_no_file_after_restoring(service):
    """A pack holds a whole journal: its files, back with the media, go with its row."""
    family = service.family("sunnyside")
    asked = post_form(
        signed_in(service.app, family, "parent_a"),
        f"/retention/children/{family.child_a_id}/leaving-pack",
    )
    assert asked.status_code == 303, asked.text
    packs = service.media_root / "sunnyside" / "packs"
    assert len(list(packs.iterdir())) == 3
    service.cli("backups", "run")
    clock.advance(timedelta(days=31))
    assert service.cli("jobs", "run", "retention-purge").exit_code == 0
    service.cli("jobs", "run", "file-deletions")
    assert list(packs.iterdir()) == []

    result = service.restore("--setting", "sunnyside", "--confirm", "sunnyside")

    assert result.exit_code == 0, result.output
    with service.app.app_context(), db.engine.begin() as connection:
        bind_schema(connection, schema_name_for("sunnyside"))
        assert connection.scalar(select(func.count()).select_from(LeavingPack)) == 0
    assert list(packs.iterdir()) == [], "the expired pack's files came back"
