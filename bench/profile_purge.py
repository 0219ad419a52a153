"""Where the purge's rows spend their time: this process's Python against PostgreSQL's, by
statement.

Run from the repository root (PostgreSQL and Redis must answer):

    .venv/bin/python bench/profile_purge.py                  # 1,000 children, 5 batches
    .venv/bin/python bench/profile_purge.py --children 2000 --calls

It fills the archive of ``bench/retention.py`` (each child with a parent, 10 observations,
20 photos; no files written: the drains are left out) and runs the ``retention-purge`` job's
work for the setting (``workers.retention_purge.purge_setting``), the drain each commit sends
replaced by nothing. It prints, for the whole job:

1. the CPU of this process and of its PostgreSQL backend (``/proc/<pid>/schedstat``: the
   nanoseconds it ran, whatever else the machine does), and the wall clock;
2. each statement (grouped by the function of ``app/`` or ``workers/`` that sent it and its
   first words): how many, and the backend's CPU and the wall time while it ran;
3. the scans of each of the setting's tables during the purge (``pg_stat_user_tables``,
   foreign keys' checks included): a sequential scan of a big table would be a missing index;
4. with ``--calls``, Python calls in all and the functions with most own time (cProfile:
   counts are exact, times proportionate only).

CPU by schedstat does not depend on the load, so figures of two versions compare on a busy
machine; wall clock does not.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import event, text

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.retention import fill_archive  # noqa: E402
from bench.tenancy import bench_app  # noqa: E402

SLUG = "bench-purge-profile"


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--batch", type=int, help="children a purge batch (the job's default)")
    parser.add_argument("--calls", action="store_true", help="profile the Python calls")
    return parser.parse_args()


def _ran_ns(pid: int) -> int:
    """Nanoseconds the process (its main thread: a backend has one) has run on a CPU."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}/schedstat")


def _sender() -> str:
    """The innermost function of the project that sent the statement running now."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if f"{REPO_ROOT}/app/" in path or f"{REPO_ROOT}/workers/" in path:
            return f"{Path(path).stem}.{frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


@contextmanager
def statements_timed(backends: set[int]) -> Iterator[dict[str, list[float]]]:
    """Per (sender, statement's first words): [count, backend CPU ms, wall ms]; adds the
    backends that ran them to ``backends``."""
    from app.extensions import db

    figures: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    started: list[tuple[int, int, float]] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        pid = cursor.connection.info.backend_pid
        backends.add(pid)
        started.append((pid, _ran_ns(pid), time.perf_counter()))

    def after(conn, cursor, statement, parameters, context, executemany) -> None:
        pid, cpu, wall = started.pop()
        key = f"{_sender():<42} {' '.join(statement.split())[:70]}"
        figure = figures[key]
        figure[0] += 1
        figure[1] += (_ran_ns(pid) - cpu) / 1e6
        figure[2] += (time.perf_counter() - wall) * 1e3

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield figures
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)


_SCANS = text(
    "select relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_live_tup"
    " from pg_stat_user_tables where schemaname = :schema"
)
# A backend reports its counts when idle, at most once a second and within 10 s.
STATS_REPORTED_WITHIN = 11


def table_scans(schema: str) -> dict[str, tuple[int, int, int, int]]:
    """Per table of the schema: (sequential scans, rows they read, index scans, live rows)."""
    from app.extensions import db

    with db.engine.connect() as connection:
        rows = connection.execute(_SCANS, {"schema": schema}).all()
    return {name: tuple(figures) for name, *figures in rows}


def print_scans(before: dict, after: dict) -> None:
    print(f"{'scans during the purge':<32} {'seq':>6} {'rows read':>10} {'index':>7} {'rows':>8}")
    for table, (seq, read, index, live) in sorted(after.items()):
        seq0, read0, index0, _ = before.get(table, (0, 0, 0, 0))
        if (seq - seq0, index - index0) != (0, 0):
            print(f"{table:<32} {seq - seq0:>6} {read - read0:>10} {index - index0:>7} {live:>8}")


@contextmanager
def drains_left_out() -> Iterator[None]:
    from app.storage import deletions

    drain = deletions.drain_file_deletions
    deletions.drain_file_deletions = lambda: 0  # the task calls it by its module's name
    try:
        yield
    finally:
        deletions.drain_file_deletions = drain


def profile(app: Flask, children: int, calls: bool) -> None:
    from app.extensions import db
    from bench.auth import inside_new_setting
    from tenants.binding import current_setting, tenant_context
    from workers.retention_purge import BATCH_SIZE, purge_setting

    with inside_new_setting(app, SLUG):
        pass
    fill_archive(app, SLUG, children, write=False)
    with app.app_context(), tenant_context(SLUG), drains_left_out():
        schema = current_setting().schema_name
        time.sleep(STATS_REPORTED_WITHIN)  # the fill's scans reported first
        scans = table_scans(schema)
        mine = text("select pid from pg_stat_activity where datname = current_database()")
        backends = set(db.session.scalars(mine))
        db.session.commit()
        before = {pid: _ran_ns(pid) for pid in backends if _alive(pid)}
        profiler = cProfile.Profile() if calls else None
        load = os.getloadavg()[0]
        with statements_timed(backends) as figures:
            cpu, wall = os.times(), time.perf_counter()
            if profiler:
                profiler.enable()
            counts = purge_setting(None)  # type: ignore[arg-type]
            if profiler:
                profiler.disable()
            wall = time.perf_counter() - wall
            after = os.times()
        # Every backend this process used (a pooled connection each transaction).
        pg = sum(_ran_ns(pid) - before.get(pid, 0) for pid in backends if _alive(pid)) / 1e9
        time.sleep(STATS_REPORTED_WITHIN)
        print_scans(scans, table_scans(schema))
    python = after.user - cpu.user + after.system - cpu.system
    print(
        f"{counts}, batches of {BATCH_SIZE}: wall {wall:.2f} s "
        f"({children / wall:.0f} children/s); CPU: this process {python:.2f} s, "
        f"PostgreSQL {pg:.2f} s; load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
        + ("  (cProfile on: times inflated)" if profiler else "")
    )
    print(f"{'statements (sender, first words)':<113} {'n':>5} {'PG CPU ms':>10} {'wall ms':>9}")
    for key, (count, backend_ms, wall_ms) in sorted(figures.items(), key=lambda kv: -kv[1][2]):
        if wall_ms >= 1:
            print(f"{key:<113} {count:>5} {backend_ms:>10.0f} {wall_ms:>9.0f}")
    total = [sum(f[i] for f in figures.values()) for i in range(3)]
    print(f"{'all statements':<113} {total[0]:>5.0f} {total[1]:>10.0f} {total[2]:>9.0f}")
    if profiler:
        stats = pstats.Stats(profiler)
        print(f"Python calls: {stats.total_calls:,}")  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(r"app/|workers/", 40)


def main() -> int:
    options = parse_options()
    if options.batch:
        import workers.retention_purge

        workers.retention_purge.BATCH_SIZE = options.batch
    with bench_app(LJ_TASKS_IN_PROCESS="1") as bench:
        profile(bench.app, options.children, options.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
