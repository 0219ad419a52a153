"""Retention benchmark: purge throughput, and building a leaving pack.

Run from the repository root (PostgreSQL and Redis must answer):

    .venv/bin/python bench/retention.py             # 2,000 children x 20 photos; a pack of 500
    .venv/bin/python bench/retention.py --quick     # 200 children; a pack of 100
    .venv/bin/python bench/retention.py --purge-only --no-floor --batch 1000  # batch size

What it measures, against the targets of the issue:

1. Purge throughput: a setting with N archived children past their retention date, each
   with a parent, 10 observations and 20 photos (2 per observation, each a photo file and
   a thumbnail on disk); one observation in ten is a group observation with the next
   child, whose text names the purged child (so the purge scrubs it). The
   ``retention-purge`` job's work for the setting (``workers.retention_purge.purge_setting``:
   batches of 200 children, one transaction and one ledger entry each), the time running
   until every file is deleted (synced to disk first, as old photos are), twice, each over
   a new archive: with the drains in sequence (the task each commit sends runs in this
   process, the purge waiting for it: the rows' and the files' shares are printed), and
   with the drains overlapped (the tasks run in a second process while the purge goes on,
   as the deployed worker's second process runs them). Children per second (target >= 500).
2. A leaving pack of one child with 500 published observations and 1,000 photos (a
   1600 x 1200 JPEG each): ``app.retention.packs.build_pack`` (PDF, ZIP, JSON) in a forked
   process; seconds (target <= 30) and the process's peak RSS, next to the peak RSS of a
   pack a fifth the size: streaming keeps them close.

Servers are those of ``bench/tenancy.py``: a throwaway database (dropped at the end), a free
Redis database (flushed at the end) or REDIS_URL, an SMTP sink, a temporary data folder.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from flask import Flask
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.tenancy import bench_app  # noqa: E402

PURGE_TARGET = 500.0  # children per second
PACK_TARGET = 30.0  # seconds
LEFT_ON = date(2015, 7, 31)


def jpeg(width: int, height: int) -> bytes:
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    out = io.BytesIO()
    noise.save(out, "JPEG", quality=80)
    return out.getvalue()


def _insert(table, rows: list[dict]) -> list[int]:
    from sqlalchemy import insert

    from app.extensions import db

    if not rows:
        return []
    if "id" in table.c:
        return list(db.session.scalars(insert(table).returning(table.c.id), rows))
    db.session.execute(insert(table), rows)
    return []


def _tag_key(newest: date, days_before: int) -> dict[str, object]:
    """What a tag row copies of its observation (published, by staff, ``days_before`` the
    ``newest``), which its foreign key checks: the rows are inserted here without the ORM."""
    return {
        "observed_on": newest - timedelta(days=days_before),
        "status": "published",
        "kind": "staff",
    }


def write_files(folder: Path, names: list[str], data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(data)


def fill_archive(
    app: Flask,
    slug: str,
    children: int,
    *,
    observations_each: int = 10,
    photos_each: int = 2,
    write: bool = True,
    numbered_from: int = 0,
) -> int:
    """Archived children past retention, each with a parent and ``observations_each``
    observations of ``photos_each`` photos showing them; the first observation is with
    a friend who stays (one for ten children) and names both, so the purge scrubs it.
    Names are numbered from ``numbered_from``: a second archive filled by the same
    process names other children, as the next night's purge does (the masking keeps the
    patterns it compiled for a set of names). Returns how many files were written
    (``write``: or else named only)."""
    from app import clock
    from app.auth.models import AccountStatus, Role, User
    from app.extensions import db
    from app.journal.models import Observation, ObservationChild, Photo, PhotoChild
    from app.journal.storage import setting_folder
    from app.people.models import Child, ParentLink
    from tenants.binding import tenant_context

    photo, thumb = jpeg(64, 48), jpeg(32, 24)
    files = 0
    with app.app_context(), tenant_context(slug):
        folder = setting_folder()
        now = clock.now()
        friends = _insert(
            Child.__table__,
            [
                {
                    "first_name": f"Stay{numbered_from + n}",
                    "last_name": f"Here{numbered_from + n}",
                    "date_of_birth": date(2022, 1, 1),
                    "start_date": date(2024, 9, 1),
                    "room": "Rainbows",
                    "photo_consent": True,
                }
                for n in range(max(1, children // 10))
            ],
        )
        for start in range(0, children, 100):
            count = min(100, children - start)
            child_ids = _insert(
                Child.__table__,
                [
                    {
                        "first_name": f"Kid{numbered_from + start + n}",
                        "last_name": f"Family{numbered_from + start + n}",
                        "date_of_birth": date(2010, 1, 1),
                        "start_date": date(2012, 9, 1),
                        "room": "Rainbows",
                        "photo_consent": True,
                        "leaving_date": LEFT_ON,
                        "archived_at": now,
                    }
                    for n in range(count)
                ],
            )
            parent_ids = _insert(
                User.__table__,
                [
                    {
                        "email": f"parent{start + n}@bench.example.org",
                        "full_name": f"Pat Family{start + n}",
                        "role": Role.PARENT.value,
                        "status": AccountStatus.DEACTIVATED.value,
                        "failed_signins": 0,
                        "deactivated_at": now,
                    }
                    for n in range(count)
                ],
            )
            _insert(
                ParentLink.__table__,
                [
                    {"parent_id": p, "child_id": c, "relationship": "Mother", "confirmed_at": now}
                    for p, c in zip(parent_ids, child_ids, strict=True)
                ],
            )
            observations = [
                (child, number, friends[(start + i) // 10 % len(friends)] if number == 0 else None)
                for i, child in enumerate(child_ids)
                for number in range(observations_each)
            ]
            first = numbered_from + start
            names = dict(zip(child_ids, range(first, first + count), strict=True))
            observation_ids = _insert(
                Observation.__table__,
                [
                    {
                        "kind": "staff",
                        "status": "published",
                        "observed_on": LEFT_ON - timedelta(days=number),
                        "text": f"Kid{names[child]} and Stay{numbered_from + friends.index(friend)}"
                        " built a den."
                        if friend
                        else f"Kid{names[child]} painted.",
                        "next_steps": "",
                        "areas": ["cl"],
                        "characteristics": [],
                        "created_at": now,
                        "updated_at": now,
                        "published_at": now,
                        "review_note": "",
                    }
                    for child, number, friend in observations
                ],
            )
            _insert(
                ObservationChild.__table__,
                [
                    {"observation_id": o, "child_id": tagged, **_tag_key(LEFT_ON, number)}
                    for o, (c, number, friend) in zip(observation_ids, observations, strict=True)
                    for tagged in (c, friend)
                    if tagged
                ],
            )
            photos = [
                (o, c, position, os.urandom(12).hex())
                for o, (c, _, _) in zip(observation_ids, observations, strict=True)
                for position in range(photos_each)
            ]
            photo_ids = _insert(
                Photo.__table__,
                [
                    {
                        "observation_id": o,
                        "position": position,
                        "file_name": f"{name}.jpg",
                        "thumbnail_name": f"{name}-t.jpg",
                        "width": 64,
                        "height": 48,
                        "size_bytes": len(photo),
                        "caption": "",
                        "created_at": now,
                    }
                    for o, _, position, name in photos
                ],
            )
            _insert(
                PhotoChild.__table__,
                [
                    {"photo_id": p, "child_id": c}
                    for p, (_, c, _, _) in zip(photo_ids, photos, strict=True)
                ],
            )
            db.session.commit()
            if write:
                write_files(folder, [f"{name}.jpg" for *_, name in photos], photo)
                write_files(folder, [f"{name}-t.jpg" for *_, name in photos], thumb)
            files += 2 * len(photos)
    return files


def bench_purge(app: Flask, children: int, *, floor: bool = True) -> None:
    from app.journal.storage import setting_folder
    from tenants.binding import tenant_context

    folder = None
    for overlapped in (False, True):
        slug = "bench-purge-overlapped" if overlapped else "bench-purge"
        files = archive_on_disk(app, slug, children, numbered_from=children if overlapped else 0)
        with app.app_context(), tenant_context(slug):
            folder = setting_folder()
        _purge_archive(app, slug, children, files, folder, overlapped=overlapped)
    assert folder is not None
    if not floor:
        return
    print(f"Unlink floor: {files} files as the purge's (one folder), written and synced first")
    for way, floor in unlink_floor(folder.parent / "unlink-floor", files):
        print(
            f"  {way:<30} {floor:6.2f} s ({files / floor:6.0f} files/s, "
            f"{children / floor:4.0f} children/s); load average {os.getloadavg()[0]:.1f}"
        )


def archive_on_disk(app: Flask, slug: str, children: int, *, numbered_from: int = 0) -> int:
    """A new setting with ``children`` archived children (``fill_archive``); returns how
    many files."""
    from bench.auth import inside_new_setting

    with inside_new_setting(app, slug):
        pass
    started = time.perf_counter()
    files = fill_archive(app, slug, children, numbered_from=numbered_from)
    # Photos of children who left years ago are long on disk: removing a file whose blocks
    # are written costs far more than removing one still in the page cache.
    os.sync()
    print(f"Filled {children} children, {files} files in {time.perf_counter() - started:.1f} s")
    return files


def _purge_archive(
    app: Flask, slug: str, children: int, files: int, folder: Path, *, overlapped: bool
) -> None:
    """Time the ``retention-purge`` job's work for the setting until every file is gone.

    In sequence: each drain runs in this process after its batch's commit, the purge
    waiting for it. Overlapped: the drains run in a second process while the purge goes
    on with its next batch, as the deployed worker's second process runs the drain task
    the commit sends (``deploy/systemd``: prefork, a process a core); the time ends when
    the purge has returned and the last drain has finished."""
    from tenants.binding import tenant_context
    from workers import retention_purge
    from workers.retention_purge import purge_setting

    load_before = os.getloadavg()[0]
    drains = _drains_in_another_process(app) if overlapped else timed_drains()
    with app.app_context(), tenant_context(slug), drains as draining:
        started = time.perf_counter()
        counts = purge_setting(None)  # type: ignore[arg-type]
        rows = time.perf_counter() - started
    seconds = time.perf_counter() - started
    left = sum(1 for path in folder.iterdir() if path.is_file())
    rate = children / seconds
    how = "drains overlapped in a second process" if overlapped else "drains in sequence"
    print(
        f"Purge, {how}, batches of {retention_purge.BATCH_SIZE}: {counts} in "
        f"{seconds:.2f} s, files left {left}: {rate:.0f} children/s including file "
        f"deletion (target >= {PURGE_TARGET:.0f}) -> "
        f"{'met' if rate >= PURGE_TARGET else 'MISSED'}; load average "
        f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    if overlapped:
        print(
            f"  rows:  {rows:.2f} s until the purge returned (the drains running beside it)\n"
            f"  files: {seconds - rows:.2f} s more until the last drain finished; "
            f"the drains took {draining[0]:.2f} s in all"
        )
        return
    rows = seconds - draining[0]
    print(
        f"  rows:  {rows:.2f} s ({children / rows:.0f} children/s)\n"
        f"  files: {draining[0]:.2f} s ({files / draining[0]:.0f} files/s, "
        f"{children / draining[0]:.0f} children/s), the drains after each batch's commit"
    )


FLOOR_SAMPLE = 10_000  # files removed on one thread (scaled up: all of them take minutes)


def unlink_floor(scratch: Path, files: int) -> Iterator[tuple[str, float]]:
    """Seconds to remove ``files`` files of the purge's sizes (a photo and a thumbnail each,
    in one folder, synced to disk first) without the database: one thread (a sample, scaled),
    several threads as the drain removes them, ``rm -rf`` of the folder. Each ends with the
    folder synced, as the drain's batches do."""
    from app.storage.deletions import UNLINK_THREADS

    ways: list[tuple[str, int, Callable[[Path, list[Path]], None]]] = [
        ("unlink, 1 thread", min(files, FLOOR_SAMPLE), unlinking(1)),
        ("unlink, 4 threads", files, unlinking(4)),
        (f"unlink, {UNLINK_THREADS} threads (drain)", files, unlinking(UNLINK_THREADS)),
        ("unlink, 64 threads", files, unlinking(64)),
        ("rm -rf of the folder", files, _rm_rf),
    ]
    photo, thumb = jpeg(64, 48), jpeg(32, 24)
    for way, count, remove in ways:
        paths = [scratch / f"{n:06d}{'-t' if n % 2 else ''}.jpg" for n in range(count)]
        write_files(scratch, [p.name for p in paths[0::2]], photo)
        write_files(scratch, [p.name for p in paths[1::2]], thumb)
        os.sync()
        started = time.perf_counter()
        remove(scratch, paths)
        seconds = time.perf_counter() - started
        assert not any(p.exists() for p in paths), f"{way}: files left"
        yield way, seconds * files / count


def unlinking(threads: int) -> Callable[[Path, list[Path]], None]:
    def remove(folder: Path, paths: list[Path]) -> None:
        slices = [paths[start::threads] for start in range(threads)]
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda part: [os.unlink(path) for path in part], slices))
        _sync_folder(folder)

    return remove


def _rm_rf(folder: Path, _: list[Path]) -> None:
    subprocess.run(["rm", "-rf", str(folder)], check=True)
    _sync_folder(folder.parent)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def timed_drains() -> Iterator[list[float]]:
    """Add up the seconds spent in the file-deletion drains the purge's commits run."""
    from app.storage import deletions

    drain = deletions.drain_file_deletions
    spent = [0.0]

    def timed() -> int:
        started = time.perf_counter()
        try:
            return drain()
        finally:
            spent[0] += time.perf_counter() - started

    deletions.drain_file_deletions = timed  # the task calls it by its module's name
    try:
        yield spent
    finally:
        deletions.drain_file_deletions = drain


@contextmanager
def _drains_in_another_process(app: Flask) -> Iterator[list[float]]:
    """Send the drain tasks the purge's commits send to a second process, which runs them
    one at a time in the order sent, as a worker's process would; on leaving, wait for it
    to finish them. Yields the seconds it spent draining (set once it has finished)."""
    from app.storage.deletions import drain_file_deletions_task

    context = multiprocessing.get_context("fork")
    tasks = context.SimpleQueue()
    receive, send = context.Pipe(duplex=False)
    worker = context.Process(target=_drain_sent_tasks, args=(app, tasks, send))
    worker.start()
    task = app.extensions["celery"].tasks[drain_file_deletions_task.name]
    delay = task.delay
    task.delay = tasks.put  # what the commit sends: the setting's slug
    spent = [0.0]
    try:
        yield spent
    finally:
        task.delay = delay
        tasks.put(None)
        spent[0] = receive.recv()
        worker.join()


def _drain_sent_tasks(app: Flask, tasks, out) -> None:
    from app.extensions import db
    from app.storage.deletions import drain_file_deletions_task

    spent = 0.0
    with app.app_context():
        db.engine.dispose(close=False)  # the parent's connections are not ours to use
        while (slug := tasks.get()) is not None:
            started = time.perf_counter()
            drain_file_deletions_task(slug)
            spent += time.perf_counter() - started
    out.send(spent)


def _pack_child(app: Flask, slug: str, observations: int) -> tuple[int, int]:
    """A child with ``observations`` published observations, 2 photos each; returns the
    child's id and a manager's."""
    from sqlalchemy import select

    from app import clock
    from app.auth.models import Role, User
    from app.extensions import db
    from app.journal.models import Observation, ObservationChild, Photo
    from app.journal.storage import setting_folder
    from app.people.models import Child
    from tenants.binding import tenant_context

    photo, thumb = jpeg(1600, 1200), jpeg(320, 240)
    with app.app_context(), tenant_context(slug):
        now = clock.now()
        [child_id] = _insert(
            Child.__table__,
            [
                {
                    "first_name": "Ada",
                    "last_name": "Okafor",
                    "date_of_birth": date(2022, 1, 1),
                    "start_date": date(2023, 9, 1),
                    "room": "Rainbows",
                    "photo_consent": True,
                }
            ],
        )
        ids = _insert(
            Observation.__table__,
            [
                {
                    "kind": "staff",
                    "status": "published",
                    "observed_on": date(2026, 1, 1) - timedelta(days=n),
                    "text": f"Observation {n}: Ada built a tall tower and counted the blocks. " * 4,
                    "next_steps": "Count to twenty.",
                    "areas": ["cl", "maths"],
                    "characteristics": ["playing"],
                    "created_at": now,
                    "updated_at": now,
                    "published_at": now,
                    "review_note": "",
                }
                for n in range(observations)
            ],
        )
        _insert(
            ObservationChild.__table__,
            [
                {"observation_id": o, "child_id": child_id, **_tag_key(date(2026, 1, 1), n)}
                for n, o in enumerate(ids)
            ],
        )
        names = [(o, p, os.urandom(12).hex()) for o in ids for p in range(2)]
        _insert(
            Photo.__table__,
            [
                {
                    "observation_id": o,
                    "position": p,
                    "file_name": f"{name}.jpg",
                    "thumbnail_name": f"{name}-t.jpg",
                    "width": 1600,
                    "height": 1200,
                    "size_bytes": len(photo),
                    "caption": "The tower",
                    "created_at": now,
                }
                for o, p, name in names
            ],
        )
        db.session.commit()
        folder = setting_folder()
        write_files(folder, [f"{name}.jpg" for *_, name in names], photo)
        write_files(folder, [f"{name}-t.jpg" for *_, name in names], thumb)
        manager = db.session.scalar(select(User.id).where(User.role == Role.MANAGER))
    return child_id, manager


def _build_in_child(app: Flask, slug: str, child_id: int, manager_id: int, out) -> None:
    from app.auth.models import User
    from app.extensions import db
    from app.people.models import Child
    from app.retention.packs import build_pack, request_pack
    from tenants.binding import tenant_context

    with app.app_context():
        db.engine.dispose(close=False)  # the parent's connections are not ours to use
        with tenant_context(slug):
            pack = request_pack(
                db.session.get_one(Child, child_id), by=db.session.get_one(User, manager_id)
            )
            db.session.flush()
            pack_id = pack.id
            db.session.info.pop("lj_tasks_after_commit", None)  # build here, timed, not at commit
            db.session.commit()
            started = time.perf_counter()
            build_pack(pack_id)
            seconds = time.perf_counter() - started
    out.send((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def bench_pack(app: Flask, observations: int) -> None:
    from bench.auth import inside_new_setting

    context = multiprocessing.get_context("fork")
    results = {}
    for size in (observations // 5, observations):
        slug = f"bench-pack-{size}"
        with inside_new_setting(app, slug):
            pass
        child_id, manager_id = _pack_child(app, slug, size)
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_build_in_child, args=(app, slug, child_id, manager_id, send)
        )
        process.start()
        results[size] = receive.recv()
        process.join()
    seconds, peak = results[observations]
    small_seconds, small_peak = results[observations // 5]
    print(
        f"Leaving pack, {observations} observations / {2 * observations} photos: "
        f"{seconds:.1f} s (target <= {PACK_TARGET:.0f}) -> "
        f"{'met' if seconds <= PACK_TARGET else 'MISSED'}; peak RSS {peak:.0f} MB "
        f"(a pack of {observations // 5}: {small_seconds:.1f} s, peak RSS {small_peak:.0f} MB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=2000)
    parser.add_argument("--observations", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="200 children, a pack of 100")
    parser.add_argument("--purge-only", action="store_true", help="no leaving pack")
    parser.add_argument("--batch", type=int, help="children a purge batch (the job's default)")
    parser.add_argument("--no-floor", action="store_true", help="the purge without the floor")
    args = parser.parse_args()
    if args.quick:
        args.children, args.observations = 200, 100
    if args.batch:
        import workers.retention_purge

        workers.retention_purge.BATCH_SIZE = args.batch
    with bench_app(LJ_TASKS_IN_PROCESS="1") as bench:
        bench_purge(bench.app, args.children, floor=not args.no_floor)
        if not args.purge_only:
            bench_pack(bench.app, args.observations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
