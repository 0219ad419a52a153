"""Tenancy benchmark: provisioning settings, migrating them all, and a routed page vs "hello".

Run from the repository root (nothing else needs starting; PostgreSQL and Redis must answer):

    .venv/bin/python bench/tenancy.py             # 1,000 settings, load tests 3 runs x 5 s
    .venv/bin/python bench/tenancy.py --quick     # 50 settings, load tests 3 runs x 2 s
    .venv/bin/python bench/tenancy.py --settings 200 --duration 3 --runs 5

    # the long run in two parts: build once (hours), measure later on a quiet machine
    .venv/bin/python bench/tenancy.py --settings 10000 --keep-database lj_bench_10k
    .venv/bin/python bench/tenancy.py --existing-database lj_bench_10k

What it measures, against the targets of the issue:

1. ``provision_setting`` for each of N settings, from a ready pool of spare schemas: median
   ms (target <= 50 ms) and the total; beside it, provisioning with the pool empty and the
   refill's cost per spare (the DDL the pool moved off the request path).
2. ``migrate_all_settings`` of an add-column ``setting`` revision over those N schemas
   (target <= 30 s). The revision is written into a temporary copy of ``migrations/``;
   the repository's migrations are never touched.
3. Requests/s of a tenant-routed page that reads one row (``bench/tenancy_wsgi.py``)
   divided by requests/s of a bare Flask "hello" (``bench/hello_wsgi.py``), both served by
   gunicorn on loopback with the same worker settings, loaded by ``wrk`` when installed
   (``apt-get install -y wrk``), else by a small Python load generator (target >= 0.6).

It works in a throwaway database ``lj_bench_<random>`` on DATABASE_URL's server (default
127.0.0.1:5432), dropped at the end (``--keep-database`` builds into a database left
behind, ``--existing-database`` measures over it), and in a Redis database: REDIS_URL when
set, else a free one of 127.0.0.1:6379 claimed the way the tests claim theirs (flushed at
the end);
the invitation each new setting emails goes to an SMTP server that drops it (aiosmtpd's Sink).
Figures come from one run on whatever machine runs it: on a shared 2-core machine, other
work moves them (10-20 % when quiet, up to 2x with tests running alongside), so compare
ratios measured in the same run. ``bench/profile_routed.py`` shows where a request's time goes.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import redis
from flask import Flask
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.loadgen import LoadResult, run_load, wrk_available  # noqa: E402

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
ROUTED_PATH = "/bench/one-row"  # the page of bench/tenancy_wsgi.py
HELLO_PATH = "/hello"  # the page of bench/hello_wsgi.py
REDIS_CLAIM_KEY = "lj:test-run-claim"  # tests/conftest.py skips a database holding this key
BENCH_COLUMN = "bench_note"

TARGET_PROVISION_MS = 50.0
TARGET_PROVISION_FLAT = 1.2  # median of the last 10 % <= this x the first 10 %'s
TARGET_RATIO = 0.40
TARGET_SPREAD = 0.9  # routed over every host >= this x routed on one host


def target_migrate_s(settings: int) -> float:
    """5 s for 1,000 settings, 50 s for 10,000 (issue #16)."""
    return 5.0 * settings / 1000


def target_up_to_date_s(settings: int) -> float:
    """1 s for 1,000 settings, 5 s for 10,000 (issue #16)."""
    return max(1.0, 0.5 * settings / 1000)


@dataclass(frozen=True)
class WorkerSettings:
    name: str
    args: tuple[str, ...]


DEPLOYED_CONFIG = REPO_ROOT / "deploy" / "gunicorn.conf.py"
WORKER_SETTINGS = {
    "sync": WorkerSettings("2 sync workers", ("--workers", "2", "--worker-class", "sync")),
    "gthread": WorkerSettings(
        "4 gthread workers x 4 threads",
        ("--workers", "4", "--worker-class", "gthread", "--threads", "4"),
    ),
    # The page pool as deployed: its workers (2 x cores + 1 sync), preloading, logging and
    # Prometheus's multiprocess files, read from the file itself so the two never differ.
    "deployed": WorkerSettings(
        "the deployed page pool (deploy/gunicorn.conf.py: 2 x cores + 1 sync workers)",
        ("--config", str(DEPLOYED_CONFIG)),
    ),
}
# What ``--workers both`` runs (``deployed`` is asked for by name).
BOTH = ("sync", "gthread")


# --- the options every load benchmark shares ---------------------------------------------------


@dataclass(frozen=True)
class LoadOptions:
    """How pages are loaded: each benchmark's options add their own to these."""

    duration: float
    runs: int
    connections: int
    use_wrk: bool
    worker_kinds: tuple[str, ...]

    @property
    def generator(self) -> str:
        return "wrk (2 threads)" if self.use_wrk else "the Python load generator"


def add_load_options(parser: argparse.ArgumentParser, *, connections: int, workers: str) -> None:
    """``--duration``, ``--runs``, ``--connections``, ``--loadgen`` and ``--workers``."""
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    parser.add_argument("--runs", type=int, default=3, help="load runs per page (median kept)")
    parser.add_argument(
        "--connections", type=int, default=connections, help="concurrent connections"
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--workers",
        nargs="+",
        choices=("both", *WORKER_SETTINGS),
        default=[workers],
        help="gunicorn settings, one or more, measured one after another (both: sync gthread)",
    )


def load_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, object]:
    """The fields of ``LoadOptions`` from ``add_load_options``' arguments, for ``Options(...)``."""
    if args.loadgen == "wrk" and not wrk_available():
        parser.error("wrk is not installed (apt-get install -y wrk)")
    return asdict(
        LoadOptions(
            duration=args.duration,
            runs=args.runs,
            connections=args.connections,
            use_wrk=args.loadgen == "wrk" or (args.loadgen == "auto" and wrk_available()),
            worker_kinds=tuple(
                dict.fromkeys(kind for name in args.workers for kind in _worker_kinds(name))
            ),
        )
    )


def _worker_kinds(name: str) -> tuple[str, ...]:
    return BOTH if name == "both" else (name,)


@dataclass(frozen=True)
class Options(LoadOptions):
    settings: int
    keep_database: str | None  # build into it and stop; it is left behind
    existing_database: str | None  # measure over it, provisioning nothing
    pg_dump: bool

    @property
    def kept_database(self) -> str | None:
        given = self.keep_database or self.existing_database
        return given and database_url(given)


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", type=int, default=1000, help="settings to provision")
    parser.add_argument("--quick", action="store_true", help="50 settings, 2 s load runs")
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument(
        "--keep-database",
        metavar="URL_OR_NAME",
        help="provision into this database (made when missing; one with settings already is "
        "topped up to --settings), report provisioning and stop, leaving it behind",
    )
    kept.add_argument(
        "--existing-database",
        metavar="URL_OR_NAME",
        help="provision nothing: measure migrate, the routed pages, worker RSS and pg_dump "
        "over the settings this database holds (built by --keep-database), and leave it",
    )
    parser.add_argument("--no-pg-dump", dest="pg_dump", action="store_false", help="skip pg_dump")
    add_load_options(parser, connections=32, workers="both")
    args = parser.parse_args()
    if args.quick:
        args.settings, args.duration = 50, 2.0
    return Options(
        settings=args.settings,
        keep_database=args.keep_database,
        existing_database=args.existing_database,
        pg_dump=args.pg_dump,
        **load_options(parser, args),
    )


# --- throwaway servers -------------------------------------------------------------------------


def database_url(url_or_name: str) -> str:
    """A database's URL: as given, or a bare name on DATABASE_URL's server (or 127.0.0.1:5432)."""
    server = make_url(
        url_or_name
        if "://" in url_or_name
        else os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    ).set(drivername="postgresql")
    name = server.database if "://" in url_or_name else url_or_name
    return server.set(database=name).render_as_string(hide_password=False)


def admin_url(url: str) -> str:
    """The server's ``postgres`` database, where databases are made and dropped."""
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def create_database_if_missing(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(admin_url(url), autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A new database on DATABASE_URL's server (or 127.0.0.1:5432), dropped afterwards."""
    url = database_url(f"lj_bench_{secrets.token_hex(5)}")
    create_database_if_missing(url)
    try:
        yield url
    finally:
        with psycopg.connect(admin_url(url), autocommit=True) as connection:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            connection.execute(drop.format(sql.Identifier(make_url(url).database)))


@contextmanager
def redis_database() -> Iterator[str]:
    """REDIS_URL as given, else a free database of 127.0.0.1:6379 (flushed at the end)."""
    if given := os.environ.get("REDIS_URL"):
        yield given
        return
    for number in range(15, 0, -1):
        url = f"redis://127.0.0.1:6379/{number}"
        client = redis.Redis.from_url(url)
        if client.set(REDIS_CLAIM_KEY, f"bench-{os.getpid()}", nx=True, ex=3600):
            try:
                yield url
            finally:
                client.flushdb()
            return
    raise RuntimeError("every Redis database 1-15 is claimed by a test run")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def smtp_sink() -> Iterator[int]:
    """An SMTP server that accepts and drops every message (provisioning emails the manager)."""
    port = free_port()
    sink = ("-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}")
    process = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", *sink])
    try:
        wait_for_port(port, process, "the SMTP sink")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within 30 s")


def set_environment(database_url: str, redis_url: str, smtp_port: int, data_dir: Path) -> None:
    """What ``create_app`` (here and in the gunicorn workers) reads."""
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "LJ_DATA_DIR": str(data_dir),
            "BASE_DOMAIN": "localhost",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "PEPPER": secrets.token_urlsafe(48),
        }
    )


def bench_process_app() -> Flask:
    """The app this process provisions and migrates with (gunicorn's workers build their own)."""
    from app import create_app

    return create_app()


@dataclass(frozen=True)
class BenchApp:
    app: Flask  # this process's
    database_url: str
    redis_url: str


@contextmanager
def bench_app(kept_database: str | None = None, **environment: str) -> Iterator[BenchApp]:
    """This process's app on throwaway servers (a database, a Redis database, an SMTP sink and
    a data folder), the registry's schema migrated; ``environment`` is set on top, for this
    app and for gunicorn's workers alike. Every server is cleaned up at the end, except the
    database when ``kept_database`` (a URL) is given: it is used as it is and left behind."""
    with (
        nullcontext(kept_database) if kept_database else throwaway_database() as database_url,
        redis_database() as redis_url,
        smtp_sink() as smtp_port,
        tempfile.TemporaryDirectory(prefix="lj-bench-") as data_dir,
    ):
        set_environment(database_url, redis_url, smtp_port, Path(data_dir))
        os.environ.update(environment)
        from app.extensions import db
        from tenants.migrating import upgrade_public

        app = bench_process_app()
        with app.app_context():
            upgrade_public(db.engine)
        print(f"Database {make_url(database_url).database}, Redis {redis_url}", flush=True)
        yield BenchApp(app, database_url, redis_url)
        # After a failure the database is dropped WITH (FORCE): no connection outlives it.
        with app.app_context():
            db.engine.dispose()


# --- 1. provisioning ---------------------------------------------------------------------------


def slug_for(number: int) -> str:
    return f"bench-{number:05d}"


@dataclass
class ProvisioningFigures:
    """Milliseconds of each provisioning, by the pool it found, and of each spare's refill."""

    from_pool: list[float] = field(default_factory=list)  # a spare was ready: the request path
    empty_pool: list[float] = field(default_factory=list)  # none ready: built in the transaction
    refill_per_spare: list[float] = field(default_factory=list)  # the DDL, off the request path


EMPTY_POOL_EVERY = 10


def setting_slugs(app: Flask) -> list[str]:
    """The slugs of the settings the registry holds (not deleted), in order."""
    from app.extensions import db
    from tenants.models import Setting, SettingStatus

    with app.app_context():
        query = (
            db.select(Setting.slug)
            .where(Setting.status != SettingStatus.DELETED)
            .order_by(Setting.slug)
        )
        return list(db.session.scalars(query))


def bench_provisioning(app: Flask, count: int) -> ProvisioningFigures:
    """Provision settings one after another until there are ``count``, timing each (a kept
    database whose build was stopped is topped up: its settings are numbered on).

    Before each, the pool is given one spare by the refill the job runs (``tenants.spares``),
    untimed for the provisioning but timed as the refill's cost per spare; every
    ``EMPTY_POOL_EVERY``-th setting finds the pool empty instead and builds its schema in its
    own transaction, as provisioning did before the pool. Taken in turns, so the machine's
    other work falls on all three alike. Each provisioning also sends the refill job to the
    broker, as in production (no worker runs here: the messages wait, flushed at the end).
    """
    from app.extensions import db
    from tenants.provisioning import provision_setting
    from tenants.spares import refill

    figures = ProvisioningFigures()
    with app.app_context():
        for number in range(len(setting_slugs(app)) + 1, count + 1):
            empty = number % EMPTY_POOL_EVERY == 0
            if not empty:
                started = time.perf_counter()
                built = refill(db.engine, 1).built
                if built:
                    figures.refill_per_spare.append((time.perf_counter() - started) * 1000 / built)
            slug = slug_for(number)
            started = time.perf_counter()
            provision_setting(slug, f"Bench Nursery {number}", f"manager@{slug}.example.org")
            elapsed = (time.perf_counter() - started) * 1000
            (figures.empty_pool if empty else figures.from_pool).append(elapsed)
            if number % 100 == 0:
                print(f"  {number} settings provisioned", flush=True)
    return figures


def report_provisioning(figures: ProvisioningFigures) -> bool:
    timings = figures.from_pool
    if not timings:
        print("Provisioning: nothing to do (the database holds every setting asked for)")
        return True
    tenth = max(1, len(timings) // 10)
    median = statistics.median(timings)
    print(f"Provisioning {len(timings) + len(figures.empty_pool)} settings")
    print(
        f"  from a ready pool of spare schemas (the request path), {len(timings)} settings: "
        f"median {median:.1f} ms (target <= {TARGET_PROVISION_MS:.0f} ms)"
    )
    print(
        f"  p95 {percentile(timings, 95):.1f} ms; median of the first 10 % "
        f"{statistics.median(timings[:tenth]):.1f} ms, of the last 10 % "
        f"{statistics.median(timings[-tenth:]):.1f} ms"
    )
    print(f"  total {sum(timings) / 1000:.1f} s")
    if figures.empty_pool:
        empty = statistics.median(figures.empty_pool)
        print(
            f"  with the pool empty (the schema built in the transaction, as before the pool), "
            f"every {EMPTY_POOL_EVERY}th setting: median {empty:.1f} ms, "
            f"{empty / median:.1f} x the median from the pool"
        )
    if figures.refill_per_spare:
        print(
            f"  the refill's cost per spare (the DDL: moved off the request path, not gone), "
            f"{len(figures.refill_per_spare)} times in turn: median "
            f"{statistics.median(figures.refill_per_spare):.1f} ms"
        )
    growth = statistics.median(timings[-tenth:]) / statistics.median(timings[:tenth])
    flat = growth <= TARGET_PROVISION_FLAT
    print(
        f"  last 10 % / first 10 %: {growth:.2f} (<= {TARGET_PROVISION_FLAT}: "
        f"{'yes' if flat else 'NO'})"
    )
    return median <= TARGET_PROVISION_MS and flat


def percentile(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100)[percent - 1] if len(values) > 1 else values[0]


# --- 2. migrating every setting ----------------------------------------------------------------

BENCH_REVISION = '''"""setting: bench-only note on users (written by bench/tenancy.py)

Revision ID: bench0add0col
Revises: {down_revision}
"""

import sqlalchemy as sa
from alembic import op

revision = "bench0add0col"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("{column}", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "{column}")
'''


@contextmanager
def migrations_with_bench_revision() -> Iterator[None]:
    """Point ``tenants.migrating`` at a copy of migrations/ holding one more setting revision."""
    from tenants import migrating

    original = migrating.MIGRATIONS_DIR
    with tempfile.TemporaryDirectory(prefix="lj-bench-migrations-") as scratch:
        copy = Path(scratch) / "migrations"
        shutil.copytree(original, copy, ignore=shutil.ignore_patterns("__pycache__"))
        revision = BENCH_REVISION.format(
            down_revision=migrating.setting_head_revision(), column=BENCH_COLUMN
        )
        (copy / "versions" / "2999_01_01_0000_setting_bench_note.py").write_text(revision)
        migrating.MIGRATIONS_DIR = copy
        migrating._script_directory.cache_clear()
        migrating._alembic_config.cache_clear()
        try:
            yield
        finally:
            migrating.MIGRATIONS_DIR = original
            migrating._script_directory.cache_clear()
            migrating._alembic_config.cache_clear()


@dataclass(frozen=True)
class MigrationFigures:
    seconds: float
    upgraded: int
    failed: int
    schemas_with_column: int
    nothing_to_do_seconds: float
    status_seconds: float
    removal_seconds: float


def bench_migration(app: Flask) -> MigrationFigures:
    """Time ``migrate_all_settings`` with the add-column revision, then again with nothing to
    do; then take the revision out again (untimed for the figures), so that a kept database
    is left at the repository's head and can be measured again."""
    from app.extensions import db
    from tenants.migrating import migrate_all_settings, read_revisions, setting_head_revision

    with app.app_context():
        with migrations_with_bench_revision():
            started = time.perf_counter()
            report = migrate_all_settings(db.engine)
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            migrate_all_settings(db.engine)
            nothing_to_do_seconds = time.perf_counter() - started
            started = time.perf_counter()
            read_revisions(db.engine)  # what `tenants status` reads
            status_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with_column = remove_bench_revision(db.engine, setting_head_revision())
        removal_seconds = time.perf_counter() - started
    return MigrationFigures(
        seconds,
        len(report.upgraded),
        len(report.failed),
        with_column,
        nothing_to_do_seconds,
        status_seconds,
        removal_seconds,
    )


def schemas_with_bench_column(engine: Engine) -> list[str]:
    """The schemas whose ``users`` has the bench's column (read through the catalogue's
    indexes: information_schema scans it all, 1.4 million tables at 10,000 settings)."""
    with engine.connect() as connection:
        found = connection.scalars(
            text(
                "SELECT n.nspname FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'users' AND a.attname = :column AND NOT a.attisdropped "
                "ORDER BY n.nspname"
            ),
            {"column": BENCH_COLUMN},
        )
        return list(found)


REMOVED_PER_TRANSACTION = 100


def remove_bench_revision(engine: Engine, head: str) -> int:
    """Drop the bench's column and record ``head`` again in every schema that has it, as the
    revision's downgrade would; returns how many schemas had it."""
    schema_names = schemas_with_bench_column(engine)
    quote = engine.dialect.identifier_preparer.quote_identifier
    for start in range(0, len(schema_names), REMOVED_PER_TRANSACTION):
        with engine.begin() as connection:
            for name in schema_names[start : start + REMOVED_PER_TRANSACTION]:
                connection.execute(
                    text(f"ALTER TABLE {quote(name)}.users DROP COLUMN {BENCH_COLUMN}")
                )
                connection.execute(
                    text(f"UPDATE {quote(name)}.alembic_version SET version_num = :head"),
                    {"head": head},
                )
    return len(schema_names)


def report_migration(figures: MigrationFigures, count: int) -> bool:
    from tenants.migrating import MIGRATION_CONNECTIONS

    print(
        f"Migrating {count} settings (ADD COLUMN users.{BENCH_COLUMN}), "
        f"{MIGRATION_CONNECTIONS} connections"
    )
    print(
        f"  {figures.seconds:.1f} s (target <= {target_migrate_s(count):.1f} s), "
        f"{figures.seconds / count * 1000:.1f} ms a setting"
    )
    print(
        f"  {figures.upgraded} upgraded, {figures.failed} failed, "
        f"{figures.schemas_with_column} schemas now have the column"
    )
    print(
        f"  the same command with nothing left to do: {figures.nothing_to_do_seconds:.2f} s "
        f"(target <= {target_up_to_date_s(count):.0f} s); every revision read as "
        f"`tenants status` reads them: {figures.status_seconds:.2f} s"
    )
    print(
        "  the revision taken out again (the database left at the head): "
        f"{figures.removal_seconds:.1f} s"
    )
    return (
        figures.seconds <= target_migrate_s(count)
        and figures.nothing_to_do_seconds <= target_up_to_date_s(count)
        and figures.failed == 0
        and figures.schemas_with_column == count
    )


# --- 3. a tenant-routed page vs hello ----------------------------------------------------------


@dataclass(frozen=True)
class Page:
    label: str
    wsgi: str  # gunicorn's "module:variable"
    path: str
    hosts: list[str]


def pages_to_load(slugs: list[str]) -> list[Page]:
    routed = "bench.tenancy_wsgi:app"
    return [
        Page("hello (bare Flask)", "bench.hello_wsgi:app", HELLO_PATH, ["localhost"]),
        Page("routed, one setting", routed, ROUTED_PATH, [f"{slugs[0]}.localhost"]),
        Page(
            f"routed, hosts spread over {len(slugs)} settings",
            routed,
            ROUTED_PATH,
            [f"{slug}.localhost" for slug in slugs],
        ),
    ]


def fetch(port: int, path: str, host: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def wait_until_serving(port: int, page: Page, process: subprocess.Popen[bytes]) -> None:
    """Wait for gunicorn to answer, and check the page answers 200 (a 404 is no benchmark)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn serving {page.wsgi} exited with {process.returncode}")
        try:
            status, body = fetch(port, page.path, page.hosts[0])
        except OSError:
            time.sleep(0.2)
            continue
        if status != 200:
            raise RuntimeError(f"{page.label} answered {status}: {body[:300]}")
        return
    raise RuntimeError(f"gunicorn serving {page.wsgi} did not answer within 30 s")


@contextmanager
def gunicorn(page: Page, workers: WorkerSettings) -> Iterator[int]:
    """Serve ``page``'s app on a free loopback port; yields the port."""
    port = free_port()
    command = [GUNICORN, "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    # The deployed configuration has Prometheus write its multiprocess files: in a folder
    # of this server's own, removed with it (the other settings keep metrics in memory).
    with tempfile.TemporaryDirectory(prefix="lj-bench-metrics-") as metrics:
        environment = dict(os.environ)
        if "--config" in workers.args:
            environment["PROMETHEUS_MULTIPROC_DIR"] = metrics
        process = subprocess.Popen(
            [*command, *workers.args, page.wsgi], cwd=REPO_ROOT, env=environment
        )
        try:
            wait_until_serving(port, page, process)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)


def worker_rss_mb(port: int) -> list[float]:
    """Resident memory of each gunicorn worker serving ``port`` (a worker has the command
    line of its master, which it was forked from)."""
    bind = f"127.0.0.1:{port}".encode()
    serving: dict[int, int] = {}  # pid -> parent pid
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and bind in (proc / "cmdline").read_bytes():
                serving[int(proc.name)] = int(
                    (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
        except OSError:
            continue  # it ended meanwhile
    page_size_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
    return [
        int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * page_size_mb
        for pid, parent in serving.items()
        if parent in serving
    ]


def load_pages(
    pages: list[Page], workers: WorkerSettings, options: Options
) -> dict[str, list[float]]:
    """Requests/s of each page, ``options.runs`` times, the pages taking turns.

    Taking turns spreads the machine's other work evenly over the pages. The resident
    memory of each worker is printed at the end (the registry snapshot holds every setting).
    """
    with ExitStack() as servers:
        ports: dict[str, int] = {}
        for page in pages:
            if page.wsgi not in ports:
                ports[page.wsgi] = servers.enter_context(gunicorn(page, workers))
        for page in pages:  # warm up: imports, pooled connections, prepared statements
            load_once(page, ports[page.wsgi], min(2.0, options.duration), options)
        rates: dict[str, list[float]] = {page.label: [] for page in pages}
        for _ in range(options.runs):
            for page in pages:
                result = load_once(page, ports[page.wsgi], options.duration, options)
                rates[page.label].append(result.requests_per_second)
        for wsgi, port in ports.items():
            each = ", ".join(f"{rss:.0f}" for rss in worker_rss_mb(port))
            print(f"    {wsgi}: each worker's RSS {each} MB", flush=True)
    return rates


def load_once(page: Page, port: int, duration: float, options: Options) -> LoadResult:
    result = run_load(options.use_wrk, port, page.path, page.hosts, duration, options.connections)
    if result.failures:
        raise RuntimeError(f"{page.label}: {result.failures} of {result.requests} requests failed")
    return result


def report_web(workers: WorkerSettings, rates: dict[str, list[float]], options: Options) -> float:
    """Print one worker setting's figures; returns routed (one setting) / hello."""
    medians = {label: statistics.median(runs) for label, runs in rates.items()}
    hello = medians[next(iter(medians))]
    print(f"  {workers.name}:")
    for label, runs in rates.items():
        each = " / ".join(f"{rate:,.0f}" for rate in runs)
        print(
            f"    {label:<44} {medians[label]:>8,.0f} req/s   "
            f"({medians[label] / hello:.2f} of hello; runs {each})"
        )
    ratio = medians["routed, one setting"] / hello
    print(f"    routed / hello: {ratio:.2f} (target >= {TARGET_RATIO})")
    spread = medians[list(medians)[2]] / medians["routed, one setting"]
    print(f"    hosts spread / one host: {spread:.2f} (target >= {TARGET_SPREAD})")
    return ratio


def bench_web(options: Options, slugs: list[str]) -> list[float]:
    print(
        f"Routed page vs hello: gunicorn on 127.0.0.1, {options.generator}, "
        f"{options.connections} connections, median of {options.runs} runs x "
        f"{options.duration:g} s"
    )
    pages = pages_to_load(slugs)
    ratios = []
    for kind in options.worker_kinds:
        workers = WORKER_SETTINGS[kind]
        ratios.append(report_web(workers, load_pages(pages, workers, options), options))
    return ratios


# --- 4. pg_dump of the whole database ---------------------------------------------------------


def bench_pg_dump(database_url: str) -> None:
    """Time ``pg_dump -Fc`` of the bench database when the server's lock table can hold it;
    otherwise say the ``max_locks_per_transaction`` it would need (app.backups checks the same)."""
    from app.backups.postgres import BackupRefused, check_lock_capacity, pg_tool, server_major

    with psycopg.connect(database_url) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace::regnamespace::text LIKE 'setting_%'"
        ).fetchone()[0]
        major = server_major(connection)
        try:
            check_lock_capacity(connection)
        except BackupRefused as refused:
            print(f"pg_dump -Fc: not run ({tables} setting tables). {refused}")
            return
    with tempfile.TemporaryDirectory(prefix="lj-bench-dump-") as scratch:
        archive = Path(scratch) / "all.dump"
        started = time.perf_counter()
        subprocess.run([pg_tool("pg_dump", major), "-Fc", "-f", archive, database_url], check=True)
        seconds = time.perf_counter() - started
        size_mb = archive.stat().st_size / 2**20
    print(f"pg_dump -Fc of {tables} setting tables: {seconds:.1f} s, {size_mb:.0f} MB")


# --- the run -----------------------------------------------------------------------------------


def print_machine() -> None:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"Machine: {os.cpu_count()} cores, load average {load}")


def main() -> None:
    options = parse_options()
    print_machine()
    if options.keep_database:
        create_database_if_missing(options.kept_database)
    met: dict[str, bool] = {}
    with bench_app(options.kept_database) as bench:
        if not options.existing_database:
            provisioning = bench_provisioning(bench.app, options.settings)
            met["provisioning"] = report_provisioning(provisioning)
        if not options.keep_database:
            slugs = setting_slugs(bench.app)
            met["migration"] = report_migration(bench_migration(bench.app), len(slugs))
            ratios = bench_web(options, slugs)
            met["routed/hello"] = all(ratio >= TARGET_RATIO for ratio in ratios)
            if options.pg_dump:
                bench_pg_dump(bench.database_url)
    print_machine()
    if options.keep_database:
        print(f"Kept: measure over it with --existing-database {options.keep_database}")
    targets = ", ".join(f"{name} {'met' if ok else 'MISSED'}" for name, ok in met.items())
    print(
        f"Targets: {targets} (one run on a shared machine: other work moves these figures, "
        "see the runs)"
    )


if __name__ == "__main__":
    main()
