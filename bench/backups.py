"""Backup benchmark: our encrypted backup vs plain ``pg_dump -Fc``, one-setting restore, verify.

Run from the repository root (Redis must answer; PostgreSQL is started here):

    .venv/bin/python bench/backups.py                  # 1,000 settings (~10 min on 2 cores)
    .venv/bin/python bench/backups.py --settings 100   # a quicker look
    .venv/bin/python bench/backups.py --keep DIR       # build once in DIR, re-use it next time

What it measures, against the targets of the issue:

1. The time of ``app.backups.making.make_backup`` (an exported snapshot, ``pg_dump -Fc``
   streamed through AES-GCM into the backup folder, the rows of every table counted from
   the dump as it streams, the manifest) divided by the time of a plain ``pg_dump -Fc`` of the same
   database into a file, in the same run, taking turns (target <= 1.15). ``MEDIA_ROOT`` is
   empty: media are excluded from both sides.
2. ``restore_setting`` of one setting in place, the erasure ledger's replay included (the
   ledger holds a purge of one of its children made after the backup) (target <= 1 s): it
   reads the setting's own rows file, never the whole dump.
3. ``verify_backup``: the whole backup restored into a scratch database and every count
   compared with the manifest.

Every setting holds the same realistic rows: a manager, 4 staff, 24 parents, 24 children
with their parents linked, 60 published observations of 1-3 children with next steps, and
their comments and audit rows, written once through the app's operations in a template
setting and copied into the others.

``pg_dump`` needs a lock per table (28 per setting), more than a default server holds for
1,000 settings, so the bench starts its own embedded PostgreSQL (``app.devservers``, set to
``max_locks_per_transaction`` 512) in a temporary folder and removes it at the end; Redis,
the SMTP sink and the throwaway database are those of ``bench/tenancy.py``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.tenancy import bench_app, bench_provisioning, slug_for  # noqa: E402

TARGET_RATIO = 1.15
TARGET_RESTORE_S = 1.0
KEPT_DATABASE = "lj_bench_backups"


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", type=int, default=1000, help="settings in the database")
    parser.add_argument("--runs", type=int, default=3, help="backups and plain dumps, in turns")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="build the server and its settings in DIR once and re-use them in later runs",
    )
    parser.add_argument(
        "--skip-verify",
        action="store_true",
        help="leave out the verification (12 minutes at 1,000 settings on a busy machine)",
    )
    return parser.parse_args()


def write_template_setting(slug: str) -> None:
    """Realistic rows in ``slug``, written through the app's operations."""
    from app.auth.models import AccountStatus, Role, User
    from app.extensions import db
    from app.journal import comments, observations, publishing
    from app.people.children import ChildDetails, create_child
    from app.people.links import link_parent
    from tenants.binding import tenant_context

    with tenant_context(slug):
        manager = db.session.query(User).filter_by(role=Role.MANAGER).one()
        manager.status = AccountStatus.ACTIVE

        def person(name: str, role: Role, number: int) -> User:
            user = User(
                full_name=f"{name} {number}",
                email=f"{role.value}{number}@{slug}.example.org",
                role=role,
                status=AccountStatus.ACTIVE,
            )
            db.session.add(user)
            return user

        staff = [person("Staff Member", Role.STAFF, n) for n in range(4)]
        parents = [person("Parent Carer", Role.PARENT, n) for n in range(24)]
        db.session.flush()
        children = []
        for number, parent in enumerate(parents):
            child = create_child(
                ChildDetails(
                    first_name=f"Child{chr(65 + number % 26)}",
                    last_name=f"Family{number}",
                    date_of_birth=date(2023, 1, 1) + timedelta(days=number * 11),
                    start_date=date(2025, 9, 1),
                    room=("Rainbows", "Sunbeams", "Acorns")[number % 3],
                    key_person_id=staff[number % 4].id,
                    photo_consent=number % 2 == 0,
                ),
                by=manager,
            )
            link_parent(parent, child, "Mother" if number % 2 else "Father", by=manager)
            children.append(child)
        for number in range(60):
            tagged = children[number % 24 : number % 24 + 1 + number % 3]
            observation = observations.create_observation(
                observations.ObservationDetails(
                    observed_on=date(2026, 10, 1) + timedelta(days=number % 50),
                    child_ids=tuple(child.id for child in tagged),
                    text=(
                        "Built a tall tower with the wooden blocks, counted each block aloud "
                        "and explained which ones were heavier. " * 3
                    ),
                    next_steps="Offer larger blocks and talk about balance.",
                    areas=("cl", "maths"),
                ),
                by=staff[number % 4],
            )
            publishing.publish(observation, by=staff[number % 4], confirmed=True)
            if number % 3 == 0:
                comments.add_comment(
                    observation, tagged[0], "Lovely, we built one at home too!", by=parents[0]
                )
        db.session.commit()


def copy_template(template: str, count: int) -> None:
    """Give settings 2..count the template's rows (replacing what provisioning made)."""
    from app.extensions import db
    from tenants.schema import TenantModel
    from tenants.slugs import schema_name_for

    tables = [table.name for table in TenantModel.metadata.sorted_tables]
    source = schema_name_for(template)
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection
        for number in range(2, count + 1):
            target = schema_name_for(slug_for(number))
            with raw.transaction():
                for table in reversed(tables):
                    raw.execute(f'DELETE FROM "{target}"."{table}"')
                for table in tables:
                    raw.execute(
                        f'INSERT INTO "{target}"."{table}" SELECT * FROM "{source}"."{table}"'
                    )
            if number % 100 == 0:
                print(f"  {number} settings filled", flush=True)


def build_settings(app, count: int) -> None:
    print(f"Provisioning {count} settings...", flush=True)
    bench_provisioning(app, count)
    with app.app_context():
        write_template_setting(slug_for(1))
        copy_template(slug_for(1), count)


def plain_dump_seconds(database_url: str, folder: Path) -> float:
    import psycopg

    from app.backups.postgres import libpq_url, pg_tool, server_major

    url = libpq_url(database_url)
    with psycopg.connect(url) as connection:
        pg_dump = pg_tool("pg_dump", server_major(connection))
    output = folder / "plain.dump"
    started = time.perf_counter()
    subprocess.run([str(pg_dump), "-Fc", "-d", url, "-f", str(output)], check=True)
    seconds = time.perf_counter() - started
    print(f"  plain pg_dump -Fc: {seconds:.2f} s, {output.stat().st_size / 1e6:.1f} MB", flush=True)
    output.unlink()
    return seconds


def backup_seconds(place) -> tuple[float, object]:
    from app.backups.making import make_backup

    started = time.perf_counter()
    backup = make_backup(place)
    seconds = time.perf_counter() - started
    size = (backup.path / "database.dump.enc").stat().st_size / 1e6
    rows = sum(path.stat().st_size for path in (backup.path / "settings").iterdir()) / 1e6
    print(
        f"  our backup:        {seconds:.2f} s, {size:.1f} MB dump + {rows:.1f} MB of "
        "settings' rows (encrypted)",
        flush=True,
    )
    return seconds, backup


def purge_one_child(slug: str) -> None:
    """A purge after the backup, as the retention purge records it: rows gone, ledger entry."""
    from sqlalchemy import delete, select

    from app.extensions import db
    from app.people.models import Child, ParentLink
    from app.retention.ledger import LedgerEntry, PurgeReason, RecordType, append_at_commit
    from tenants.binding import tenant_context

    with tenant_context(slug):
        child_id = db.session.scalars(select(Child.id).order_by(Child.id.desc())).first()
        links = db.session.scalars(select(ParentLink.id).where(ParentLink.child_id == child_id))
        link_ids = list(links)
        db.session.execute(delete(ParentLink).where(ParentLink.id.in_(link_ids)))
        append_at_commit(
            LedgerEntry.of_current_setting(
                RecordType.CHILD,
                reason=PurgeReason.RETENTION,
                rows={"parent_links": link_ids, "children": [child_id]},
            )
        )
        db.session.commit()


def autovacuum_workers(database_url: str) -> int:
    """Autovacuum workers busy now: after filling 1,000 settings they analyse 28,000 tables,
    and a restore that drops a schema waits for any that holds one of its tables."""
    import psycopg

    from app.backups.postgres import libpq_url

    with psycopg.connect(libpq_url(database_url)) as connection:
        return connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
        ).fetchone()[0]


def main() -> None:
    options = parse_options()
    from app.devservers import embedded_postgres

    with (
        nullcontext(str(options.keep))
        if options.keep
        else tempfile.TemporaryDirectory(prefix="lj-bench-backups-") as work
    ):
        work_dir = Path(work)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            server_url, server = embedded_postgres(work_dir / "server")
        try:
            run(options, server_url, work_dir)
        finally:
            server.cleanup()


def kept_database(server_url: str, built: bool) -> str:
    """The bench's database on the kept server, made again unless its build was complete."""
    import psycopg
    from sqlalchemy.engine import make_url

    from app.backups.postgres import libpq_url

    if not built:
        with psycopg.connect(libpq_url(server_url), autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {KEPT_DATABASE} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {KEPT_DATABASE}")
    return make_url(server_url).set(database=KEPT_DATABASE).render_as_string(hide_password=False)


def run(options: argparse.Namespace, server_url: str, work_dir: Path) -> None:
    import os

    os.environ["DATABASE_URL"] = server_url
    # A kept build is marked once complete: a run stopped while building starts it again.
    built = work_dir / f"built-{options.settings}-settings"
    shutil.rmtree(work_dir / "backups", ignore_errors=True)
    environment = {
        "BACKUP_KEY": "bench-backup-key-" + os.urandom(16).hex(),
        "MEDIA_ROOT": str(work_dir / "media"),
        "BACKUP_DIR": str(work_dir / "backups"),
        "ERASURE_LEDGER": str(work_dir / "erasure-ledger.jsonl"),
        "LJ_TASKS_IN_PROCESS": "1",
    }
    database = kept_database(server_url, built.exists()) if options.keep else None
    with bench_app(database, **environment) as bench:
        app = bench.app
        if not built.exists():
            build_settings(app, options.settings)
            built.touch()
        with app.app_context():
            from app.backups.making import backup_place
            from app.backups.restoring import restore_setting, verify_backup

            place = backup_place()
            print("Backups and plain dumps, taking turns:", flush=True)
            plain, ours, backup = [], [], None
            for _ in range(options.runs):
                plain.append(plain_dump_seconds(bench.database_url, work_dir))
                if backup is not None:  # one at a time: two made in one second share a name
                    shutil.rmtree(backup.path)
                seconds, backup = backup_seconds(place)
                ours.append(seconds)
            slug = slug_for(options.settings // 2)
            purge_one_child(slug)
            restores = []
            for _ in range(options.runs):
                vacuuming = autovacuum_workers(bench.database_url)
                started = time.perf_counter()
                restored = restore_setting(place, backup, slug)
                restores.append(time.perf_counter() - started)
                print(
                    f"  one-setting restore: {restores[-1]:.2f} s "
                    f"({vacuuming} autovacuum workers busy when it began)",
                    flush=True,
                )
            restore_s = statistics.median(restores)
            if not options.skip_verify:
                started = time.perf_counter()
                verification = verify_backup(place, backup)
                verify_s = time.perf_counter() - started
        ratio = statistics.median(ours) / statistics.median(plain)
        print()
        from tenants.schema import TenantModel

        tables = len(TenantModel.metadata.tables)
        print(f"Settings: {options.settings} ({tables} model tables each), media excluded")
        print(f"Plain pg_dump -Fc (median of {options.runs}): {statistics.median(plain):.2f} s")
        print(f"Our backup (median of {options.runs}):        {statistics.median(ours):.2f} s")
        print(f"  backup / plain dump: {ratio:.2f}  (target <= {TARGET_RATIO})")
        print(
            f"Restore one setting ({restored.rows} rows, {restored.purges_replayed} purge "
            f"replayed, median of {options.runs}): {restore_s:.2f} s "
            f"(target <= {TARGET_RESTORE_S:.0f} s)"
        )
        if not options.skip_verify:
            print(f"Verify (scratch restore, every count): {verify_s:.2f} s, ok={verification.ok}")


if __name__ == "__main__":
    main()
