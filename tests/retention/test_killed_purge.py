"""The retention purge survives a SIGKILL of its worker mid-job (real worker, Redis, PostgreSQL).

The setting holds enough archived children past their retention period, each with a
parent, observations and photo files, that the purge takes several batches of
``BATCH_SIZE`` children (one transaction and one ledger entry each). The worker is
killed once some children are gone and others are not; a second worker takes the task
the broker delivers again and finishes. Each child is then whole or wholly gone, at the
kill and after the rerun; no file is left without a row or a queued deletion naming it,
and the ledger records each child's purge once (plus, at most, the entry of the batch the
kill cut between its ledger line and its commit, which the rerun purges again).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, text, update

from app.extensions import db
from app.journal.models import Observation, ObservationChild, Photo, PhotoChild
from app.people.models import Child, ParentLink
from app.retention import ledger
from app.storage.models import FileDeletion
from bench.retention import fill_archive
from tests.helpers.backups import Service
from tests.helpers.people import inside
from tests.helpers.retention import LONG_AGO
from tests.helpers.workers import wait_until
from workers.models import JobRun
from workers.retention_purge import BATCH_SIZE

DUE = 4 * BATCH_SIZE  # archived children past their period: four batches
STAYING = 100  # children who have not left; the last 100 filled, with their own group work
SLUG = "purged-nursery"

Tagged = dict[int, frozenset[int]]  # observation -> the children it tagged when filled


@dataclass(frozen=True)
class Holding:
    """One child's rows and files, as filled."""

    parent_id: int
    observations: frozenset[int]  # tagging this child (10 each; one shared with a friend)
    photos: frozenset[int]
    files: frozenset[str]


@dataclass(frozen=True)
class State:
    """What the setting holds now: ids of the rows the children's holdings name, the files
    its rows name, the files queued for deletion, and the files on disk."""

    children: frozenset[int]
    users: frozenset[int]
    links: frozenset[tuple[int, int]]  # (parent, child)
    observations: frozenset[int]
    photos: frozenset[int]
    named_files: frozenset[str]
    queued_files: frozenset[str]
    disk_files: frozenset[str]


def _ids(query) -> frozenset:
    return frozenset(db.session.execute(query).scalars())


def holdings(service: Service) -> tuple[dict[int, Holding], Tagged]:
    """Each child's holding, and the children each observation tags."""
    with inside(service.app, SLUG):
        links = dict(db.session.execute(select(ParentLink.child_id, ParentLink.parent_id)).all())
        tags = db.session.execute(
            select(ObservationChild.child_id, ObservationChild.observation_id)
        )
        observations: dict[int, set[int]] = {}
        tagged: dict[int, set[int]] = {}
        for child_id, observation_id in tags:
            observations.setdefault(child_id, set()).add(observation_id)
            tagged.setdefault(observation_id, set()).add(child_id)
        photos = db.session.execute(
            select(PhotoChild.child_id, Photo.id, Photo.file_name, Photo.thumbnail_name).join(
                Photo, Photo.id == PhotoChild.photo_id
            )
        ).all()
    children = {
        child_id: Holding(
            parent_id=parent_id,
            observations=frozenset(observations[child_id]),
            photos=frozenset(p.id for p in photos if p.child_id == child_id),
            files=frozenset(
                name
                for p in photos
                if p.child_id == child_id
                for name in (p.file_name, p.thumbnail_name)
            ),
        )
        for child_id, parent_id in links.items()
    }
    return children, {observation: frozenset(ids) for observation, ids in tagged.items()}


def state(service: Service) -> State:
    from app.auth.models import User

    folder = service.media_root / SLUG
    with inside(service.app, SLUG):
        named = db.session.execute(select(Photo.file_name, Photo.thumbnail_name)).all()
        queued = _ids(select(FileDeletion.path))
        return State(
            children=_ids(select(Child.id)),
            users=_ids(select(User.id)),
            links=frozenset(
                (row.parent_id, row.child_id)
                for row in db.session.execute(select(ParentLink.parent_id, ParentLink.child_id))
            ),
            observations=_ids(select(Observation.id)),
            photos=_ids(select(Photo.id)),
            named_files=frozenset(name for row in named for name in row),
            queued_files=frozenset(Path(path).name for path in queued),
            disk_files=frozenset(path.name for path in folder.iterdir()),
        )


def whole_or_gone(child_id: int, holding: Holding, now: State, tagged: Tagged) -> bool:
    """True when the child is whole, False when wholly gone; fails on anything between.

    Of a child gone, an observation stays only while another child it tags stays.
    """
    if child_id in now.children:
        assert holding.parent_id in now.users, f"child {child_id}: parent gone"
        assert (holding.parent_id, child_id) in now.links, f"child {child_id}: link gone"
        assert holding.observations <= now.observations, f"child {child_id}: observation gone"
        assert holding.photos <= now.photos, f"child {child_id}: a photo gone"
        assert holding.files <= now.named_files & now.disk_files, f"child {child_id}: file gone"
        return True
    assert holding.parent_id not in now.users, f"child {child_id}: parent left behind"
    assert not holding.photos & now.photos, f"child {child_id}: a photo left behind"
    assert not holding.files & now.named_files, f"child {child_id}: a file still named"
    assert not holding.files & (now.disk_files - now.queued_files), (
        f"child {child_id}: a file on disk that no row or queued deletion names"
    )
    for observation in holding.observations & now.observations:
        assert tagged[observation] & now.children, f"child {child_id}: observation left behind"
    return False


def fill(service: Service) -> tuple[dict[int, Holding], Tagged]:
    """DUE archived children past their period and STAYING children who have not left."""
    from tenants.provisioning import provision_setting

    with service.app.app_context():
        provision_setting(SLUG, "Purged Nursery", f"manager@{SLUG}.example.org", "Mina Manager")
    fill_archive(service.app, SLUG, DUE + STAYING, observations_each=2, photos_each=1)
    with inside(service.app, SLUG):
        staying = select(Child.id).order_by(Child.id.desc()).limit(STAYING).scalar_subquery()
        db.session.execute(
            update(Child).where(Child.id.in_(staying)).values(archived_at=None, leaving_date=None)
        )
        db.session.commit()
    return holdings(service)


def _runs(service: Service) -> list[tuple[str, str | None]]:
    """(outcome, summary) of each run of the job, oldest first."""
    with service.app.app_context():
        return [
            (run.outcome, run.summary)
            for run in db.session.execute(
                select(JobRun.outcome, JobRun.summary)
                .where(JobRun.job == "retention-purge")
                .order_by(JobRun.id)
            )
        ]


def _running(service: Service) -> bool:
    return [outcome for outcome, _ in _runs(service)] == ["running"]


def _children_left(service: Service) -> int:
    with inside(service.app, SLUG):
        return db.session.scalar(select(text("count(*)")).select_from(Child))


def test_a_purge_killed_mid_job_is_delivered_again_and_leaves_every_child_whole_or_gone(
    service, start_worker
):
    filled, tagged = fill(service)
    assert len(filled) == DUE + STAYING
    first = start_worker(SLUG, "first")
    first.wait_ready()
    celery = service.app.extensions["celery"]
    celery.conf.task_always_eager = False  # to the worker, not run here

    celery.send_task("workers.run_job", args=("retention-purge",))
    wait_until(
        lambda: _running(service) and _children_left(service) < DUE + STAYING,
        60,
        "the purge to have committed a batch and be running",
    )
    first.kill()

    at_kill = state(service)
    present = {c for c, h in filled.items() if whole_or_gone(c, h, at_kill, tagged)}
    assert STAYING < len(present) < DUE + STAYING, "killed in the middle, not before or after"
    assert at_kill.disk_files <= at_kill.named_files | at_kill.queued_files, "an orphaned file"
    assert _runs(service) == [("running", "")]
    # The operator sees the dead run (its lock died with the worker).
    status = service.cli("jobs", "status")
    assert status.exit_code == 1
    lines = status.output.splitlines()
    purge_line = next(n for n, line in enumerate(lines) if line.startswith("retention-purge"))
    assert " died " in lines[purge_line]
    assert "ATTENTION: its last run died before finishing" in lines[purge_line + 1]

    # A second worker is handed the task the broker never saw acknowledged.
    second = start_worker(SLUG, "second", LJ_VISIBILITY_TIMEOUT="4")
    second.wait_ready()
    second.wait_for_log("job retention-purge finished", timeout=120)
    with inside(service.app, SLUG):
        queue_empty = lambda: not db.session.scalar(select(FileDeletion.id).limit(1))  # noqa: E731
        wait_until(lambda: db.session.rollback() or queue_empty(), 120, "the files to be deleted")

    after = state(service)
    kept = {c for c, h in filled.items() if whole_or_gone(c, h, after, tagged)}
    assert len(kept) == STAYING
    assert after.disk_files == after.named_files, "every file on disk is named by a row"
    assert not [name for name in after.disk_files if name.startswith(".")], "a temporary file"
    runs = _runs(service)
    assert [outcome for outcome, _ in runs[:2]] == ["died", "succeeded"]
    assert f"{DUE - (DUE + STAYING - len(present))} children purged" in runs[1][1]
    # Past the short visibility timeout the broker may hand the task over once more: that
    # run finds nothing left to do.
    assert all(run == ("succeeded", "1 setting done") for run in runs[2:]), runs

    with service.app.app_context():
        entries = [e for e in ledger.entries_for(SLUG, LONG_AGO) if e.record_type == "child"]
    # The batch the kill cut between its ledger line and its commit was purged again by
    # the rerun: only its children, still there at the kill, may be listed twice.
    listed = [child for entry in entries for child in entry.rows["children"]]
    purged = set(filled) - kept
    assert set(listed) == purged
    twice = {child for child in listed if listed.count(child) > 1}
    assert twice <= present and len(twice) <= BATCH_SIZE
    assert len(listed) - len(twice) == len(purged)
    assert service.ledger.read_bytes().endswith(b"\n"), "a torn ledger line"
