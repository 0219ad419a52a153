"""Thumbnails as files or in the database: what a purge gains, what the rest pays.

Run from the repository root (PostgreSQL and Redis must answer):

    .venv/bin/python bench/thumbnail_layout.py                 # 500 children x 20 photos
    .venv/bin/python bench/thumbnail_layout.py --children 200  # a quicker look

A prototype, measured before deciding (issue #11): today every photo is two files, the
photo and its thumbnail (``app.journal.media``: 480 px, JPEG quality 80). Keeping the
thumbnail in the photo's row instead (a ``bytea`` column, served by the same
access-checked route) halves the files a purge removes. This prints, in one run:

1. The unlink floor (16 threads, as the drain removes files, synced first) of the files
   of N children: two a photo against one, alternated twice.
2. The same archive purged both ways (``workers.retention_purge.purge_setting``, drains
   in sequence): today's layout, and the prototype's, where the setting's schema gets a
   ``thumbnail bytea`` column filled with a thumbnail of the real size and the purge
   queues only the photo's file. Each after a ``CHECKPOINT`` (the rows of photos purged
   are years old). Rows and files seconds, and the WAL written.
3. What the thumbnails in the database cost the rest: the setting's tables on disk, its
   ``pg_dump -Fc -n SCHEMA`` (the nightly backup's per-setting part, and what restoring
   one setting reads) in seconds and MB, and reading one thumbnail by id from its row
   against reading its file (what the thumbnail route does for each image of a page).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.retention import archive_on_disk, jpeg, unlinking, write_files  # noqa: E402
from bench.tenancy import bench_app  # noqa: E402

FLOOR_THREADS = 16  # the drain's (app.storage.deletions.UNLINK_THREADS)


DISTINCT_THUMBNAILS = 16  # cycled over the photos: a dump's compressor sees no repeats


def thumbnails(kilobytes: int) -> list[bytes]:
    """Distinct 480 x 360 JPEGs at the thumbnail's quality, of about ``kilobytes`` each
    (a real photo's thumbnail is 25-50 KB; grain over a gradient, its share found by
    halving, stands in for the detail of a real scene)."""
    from app.journal.media import THUMBNAIL_QUALITY

    def made(share: float) -> bytes:
        base = Image.radial_gradient("L").resize((480, 360)).convert("RGB")
        grain = Image.effect_noise((480, 360), 40).convert("RGB")
        out = io.BytesIO()
        Image.blend(base, grain, share).save(out, "JPEG", quality=THUMBNAIL_QUALITY)
        return out.getvalue()

    low, high = 0.0, 1.0
    for _ in range(12):
        share = (low + high) / 2
        low, high = (share, high) if len(made(share)) < kilobytes * 1000 else (low, share)
    return [made(low) for _ in range(DISTINCT_THUMBNAILS)]


def floor_seconds(scratch: Path, files: int, per_photo: int) -> float:
    """Seconds to remove ``files`` files (written, synced), FLOOR_THREADS at once."""
    photo, thumb = jpeg(64, 48), jpeg(32, 24)
    names = [f"{n:06d}{'-t' if per_photo == 2 and n % 2 else ''}.jpg" for n in range(files)]
    paths = [scratch / name for name in names]
    write_files(scratch, [p.name for p in paths if not p.name.endswith("-t.jpg")], photo)
    write_files(scratch, [p.name for p in paths if p.name.endswith("-t.jpg")], thumb)
    os.sync()
    started = time.perf_counter()
    unlinking(FLOOR_THREADS)(scratch, paths)
    return time.perf_counter() - started


def bench_floor(children: int, scratch: Path) -> None:
    photos = children * 20
    runs: dict[int, list[float]] = {2: [], 1: []}
    for _ in range(2):
        for per_photo in (2, 1):
            runs[per_photo].append(floor_seconds(scratch, photos * per_photo, per_photo))
    two, one = statistics.median(runs[2]), statistics.median(runs[1])
    print(
        f"Unlink floor, {FLOOR_THREADS} threads, {photos} photos: two files a photo "
        f"{two:.2f} s ({children / two:.0f} children/s), one file a photo {one:.2f} s "
        f"({children / one:.0f} children/s): ratio {one / two:.2f} "
        f"(runs {runs[2]}, {runs[1]}); load average {os.getloadavg()[0]:.1f}"
    )


def store_thumbnails_in_rows(app: Flask, slug: str, thumbnail: list[bytes]) -> None:
    """The prototype's layout in this setting: a ``thumbnail`` column holding each
    photo's thumbnail, and no thumbnail file (the files are removed, untimed)."""
    from sqlalchemy import select, text

    from app.extensions import db
    from app.journal.models import Photo
    from app.journal.storage import setting_folder
    from tenants.binding import tenant_context

    with app.app_context(), tenant_context(slug):
        # Stored as it is, never compressed: a JPEG does not compress, and trying costs CPU.
        db.session.execute(text("ALTER TABLE observation_photos ADD COLUMN thumbnail bytea"))
        db.session.execute(
            text("ALTER TABLE observation_photos ALTER COLUMN thumbnail SET STORAGE EXTERNAL")
        )
        db.session.execute(
            text("UPDATE observation_photos SET thumbnail = (:t)[id % :n + 1]"),
            {"t": thumbnail, "n": len(thumbnail)},
        )
        names = list(db.session.scalars(select(Photo.thumbnail_name)))
        db.session.commit()
        folder = setting_folder()
    for name in names:
        (folder / name).unlink()
    os.sync()


def schema_of(app: Flask, slug: str) -> str:
    from tenants.binding import current_setting, tenant_context

    with app.app_context(), tenant_context(slug):
        return current_setting().schema_name


def sizes(app: Flask, database_url: str, slug: str) -> tuple[float, float, float]:
    """The setting's tables on disk (MB), its pg_dump -Fc (seconds, MB)."""
    from sqlalchemy import text

    from app.extensions import db

    schema = schema_of(app, slug)
    with app.app_context():
        on_disk = db.session.scalar(
            text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind = 'r'"
            ),
            {"schema": schema},
        )
        db.session.rollback()
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "setting.dump"
        started = time.perf_counter()
        subprocess.run(
            ["pg_dump", "-Fc", "-n", schema, "-f", str(archive), database_url], check=True
        )
        seconds = time.perf_counter() - started
        dumped = archive.stat().st_size
    return float(on_disk) / 1e6, seconds, dumped / 1e6


def reading_thumbnails(app: Flask, slug: str, count: int = 300) -> tuple[float, ...]:
    """Median ms to read one photo's row by id (a transaction each, as a request does)
    with its thumbnail and without, and to read a file of the thumbnail's size."""
    from sqlalchemy import select, text

    from app.extensions import db
    from app.journal.models import Photo
    from tenants.binding import tenant_context

    with app.app_context(), tenant_context(slug):
        ids = list(db.session.scalars(select(Photo.id)))
        size = db.session.scalar(text("SELECT length(thumbnail) FROM observation_photos LIMIT 1"))
        db.session.rollback()
    sample = random.sample(ids, min(count, len(ids)))
    timings: dict[str, list[float]] = {"with": [], "without": [], "file": []}
    queries = {
        "with": text("SELECT id, thumbnail FROM observation_photos WHERE id = :id"),
        "without": text("SELECT id FROM observation_photos WHERE id = :id"),
    }
    with tempfile.TemporaryDirectory(dir=os.environ["LJ_DATA_DIR"]) as scratch:
        files = [Path(scratch) / f"{n}.jpg" for n in range(len(sample))]
        for path in files:
            path.write_bytes(os.urandom(size))
        os.sync()
        with app.app_context():
            for photo_id, path in zip(sample, files, strict=True):
                for way, query in queries.items():
                    with tenant_context(slug):
                        started = time.perf_counter()
                        db.session.execute(query, {"id": photo_id}).all()
                        db.session.commit()
                        timings[way].append(time.perf_counter() - started)
                started = time.perf_counter()
                path.read_bytes()
                timings["file"].append(time.perf_counter() - started)
    return tuple(statistics.median(timings[way]) * 1000 for way in ("with", "without", "file"))


def purge_timed(app: Flask, slug: str, *, thumbnails_in_rows: bool) -> tuple[float, float, float]:
    """Rows seconds, files seconds, WAL MB of the purge (drains in sequence)."""
    from sqlalchemy import text

    from app.extensions import db
    from app.retention import purge
    from bench.retention import timed_drains
    from tenants.binding import tenant_context
    from workers.retention_purge import purge_setting

    queue_files = purge._queue_files
    if thumbnails_in_rows:  # the prototype: a photo is one file

        def photo_file_only(photos, purged) -> None:
            purge.storage.remove_after_commit(*(photo.file_name for photo in photos))
            purged.files += len(photos)

        purge._queue_files = photo_file_only
    try:
        with app.app_context():
            # Photos purged were written years before: a checkpoint has passed since, so
            # the first change to each of their pages writes the whole page to the WAL.
            db.session.execute(text("CHECKPOINT"))
            db.session.rollback()
            wal_before = db.session.scalar(text("SELECT pg_current_wal_lsn()"))
            db.session.rollback()
        with app.app_context(), tenant_context(slug), timed_drains() as draining:
            started = time.perf_counter()
            purge_setting(None)  # type: ignore[arg-type]
            seconds = time.perf_counter() - started
        with app.app_context():
            wal = db.session.scalar(
                text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :before)"),
                {"before": wal_before},
            )
            db.session.rollback()
    finally:
        purge._queue_files = queue_files
    return seconds - draining[0], draining[0], float(wal) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=500)
    parser.add_argument("--thumbnail-kb", type=int, default=40, help="a thumbnail's size")
    args = parser.parse_args()
    with bench_app(LJ_TASKS_IN_PROCESS="1") as bench:
        app = bench.app
        with app.app_context():
            thumbnail = thumbnails(args.thumbnail_kb)
        print(f"Thumbnails: {len(thumbnail)} distinct of {len(thumbnail[0]) / 1000:.0f} KB")
        with tempfile.TemporaryDirectory(dir=os.environ["LJ_DATA_DIR"]) as scratch:
            bench_floor(args.children, Path(scratch))
        for in_rows in (False, True):
            slug = "bench-thumbs-in-rows" if in_rows else "bench-thumbs-as-files"
            archive_on_disk(app, slug, args.children)
            if in_rows:
                store_thumbnails_in_rows(app, slug, thumbnail)
                with_ms, without_ms, file_ms = reading_thumbnails(app, slug)
                print(
                    f"  a photo's row by id: {with_ms:.2f} ms with its thumbnail, "
                    f"{without_ms:.2f} ms without; a thumbnail's file {file_ms:.2f} ms"
                )
            on_disk, dump_s, dump_mb = sizes(app, bench.database_url, slug)
            load = os.getloadavg()[0]
            rows, files, wal = purge_timed(app, slug, thumbnails_in_rows=in_rows)
            print(
                f"{'Thumbnails in rows' if in_rows else 'Thumbnails as files'}: tables "
                f"{on_disk:.0f} MB, pg_dump -Fc {dump_s:.1f} s / {dump_mb:.0f} MB; purge "
                f"rows {rows:.2f} s, files {files:.2f} s, WAL {wal:.0f} MB: "
                f"{args.children / (rows + files):.0f} children/s; load average "
                f"{load:.1f} -> {os.getloadavg()[0]:.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
