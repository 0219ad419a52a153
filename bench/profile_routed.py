"""What a request to the routed bench page costs, in CPU microseconds, and where it goes.

Run from the repository root; it needs ``wrk`` and ``py-spy`` (``.venv/bin/pip install
py-spy``; a bench-only tool, not a dependency of the project):

    .venv/bin/python bench/profile_routed.py                            # one setting's host
    .venv/bin/python bench/profile_routed.py --settings 1000 --spread   # hosts over 1,000
    .venv/bin/python bench/profile_routed.py --in-process --settings 1   # 3. and 4. only

It builds the same throwaway servers as ``bench/tenancy.py`` and serves the hello and the
routed page the same way (2 sync gunicorn workers, wrk with 32 connections). On a saturated
machine, requests/s is the cores divided by the CPU one request costs across every process
that serves it, so it reports, per request:

1. CPU time of each process group (gunicorn, the PostgreSQL backends of the bench database,
   the Redis server, wrk), read from /proc around one load run of each page; the rest of the
   machine's busy time is other people's work (or the kernel's softirq time for loopback).
2. The gunicorn worker's CPU for a routed request split by step: py-spy samples one worker
   (on-CPU samples only) and each sample goes to the first step whose marker is in its stack.
   On a busy machine a thread waiting for a core counts as on-CPU: read it as proportions.
3. What one change would save: the page's CPU in this process through Flask's test client,
   as served and with pool_pre_ping on, without the Redis PING, without Flask-Limiter, or
   reading a whole ``User`` instead of its columns (``bench/page_variants.py``); and, beside
   them, the account page of a person signed in (the Redis session, the person loaded) and
   the sign-in form (anonymous): the two pages with forms every person opens.
4. Each app-wide step of the request as served (every before-, after- and teardown-request
   function, the session's open and save, the view): its CPU and exact Python calls in this
   process (``bench/page_variants.measure_steps``).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.loadgen import run_wrk  # noqa: E402
from bench.page_variants import (  # noqa: E402
    add_account_page_person,
    measure_steps,
    measure_variants,
    report_variants,
)
from bench.tenancy import (  # noqa: E402
    WORKER_SETTINGS,
    Page,
    bench_app,
    bench_provisioning,
    gunicorn,
    pages_to_load,
    setting_slugs,
    slug_for,
)

CONNECTIONS = 32
TICKS = os.sysconf("SC_CLK_TCK")

# (step, markers): a sample goes to the first step with a marker in its stack. Markers are
# the start of py-spy's frames, "Class.function (package/file". Inner steps come first.
STEPS: list[tuple[str, tuple[str, ...]]] = [
    ("registry lookup on a cache miss", ("_load_active (tenants/registry.py",)),
    ("pool_pre_ping: SELECT 1 at checkout", (".do_ping (sqlalchemy/",)),
    ("BEGIN (psycopg, before the first statement)", ("BaseConnection._start_query (psycopg",)),
    ("SET LOCAL search_path", ("_bind_schema_to_transaction (tenants/binding.py",)),
    ("the page's SELECT: build, execute, read its columns", ("one_row (bench/routed_page.py",)),
    ("ROLLBACK at session remove", ("BaseConnection._rollback_gen (psycopg",)),
    ("pool checkout and return (rest)", ("(sqlalchemy/pool/",)),
    ("scoped session remove (rest): bind/unbind/teardown", ("scoped_session.remove (",)),
    ("Redis PING in refuse_without_session_store", ("refuse_without_session_store (",)),
    ("Redis session open/save", ("open_session (", "save_session (")),
    ("host -> setting (cache hit) and bind", ("_resolve_setting_for_request (tenants/",)),
    ("Flask-Limiter before/after request", ("(flask_limiter/",)),
    ("CSRF, login manager, security headers", ("(flask_wtf/", "(flask_login/", "(app/security/")),
    ("Flask/Werkzeug: request, routing, response", ("(flask/", "(werkzeug/")),
    ("gunicorn: accept, parse, write, close", ("(gunicorn/",)),
]


@dataclass
class CpuUse:
    """CPU seconds of each process group during one load run, and requests served."""

    requests: int
    seconds: dict[str, float]


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", type=int, default=20, help="settings to provision")
    parser.add_argument("--spread", action="store_true", help="hosts over every setting")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of each run")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw stacks in this file")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="only 3. and 4. (no gunicorn, wrk or py-spy): calls and CPU of this process",
    )
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install -y wrk)")
    options.py_spy = shutil.which("py-spy") or shutil.which(
        "py-spy", path=str(Path(sys.executable).parent)
    )
    if options.py_spy is None:
        parser.error("py-spy is not installed (.venv/bin/pip install py-spy)")
    return options


# --- CPU time per process group ----------------------------------------------------------------

GUNICORN = "gunicorn (master + 2 workers)"
BENCH_BACKENDS = "PostgreSQL: the bench database's backends"
OTHER_POSTGRES = "PostgreSQL: other processes (autovacuum, WAL, other databases)"
REDIS = "Redis server"
WRK = "wrk"
KERNEL_AND_GONE = "not in any process now running (softirq, exited processes)"


def cpu_of_every_process() -> dict[int, tuple[str, float]]:
    """pid -> (command name, user + system CPU seconds so far) of every process."""
    processes = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 1 :].split()
        processes[int(stat.parent.name)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return processes


def machine_busy_cpu() -> float:
    """CPU seconds every core has spent not idle since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS


def listening_pids(port: int) -> set[int]:
    """gunicorn's master and workers: every process holding the listening socket."""
    output = subprocess.run(
        ["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return {int(pid) for pid in re.findall(r"pid=(\d+)", output)}


def database_backend_pids(database_url: str) -> set[int]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return {pid for (pid,) in rows}


def group_of(pid: int, name: str, gunicorn_pids: set[int], backend_pids: set[int]) -> str:
    if pid in gunicorn_pids:
        return GUNICORN
    if name == "postgres":
        return BENCH_BACKENDS if pid in backend_pids else OTHER_POSTGRES
    if name.startswith("redis-server"):
        return REDIS
    return f"other: {name}"


def measure_cpu(page: Page, port: int, seconds: float, backend_pids: set[int]) -> CpuUse:
    """One load run of ``page``: CPU seconds of each group of processes on the machine.

    wrk's CPU comes from this process's children; what no process running at the end
    accounts for (the kernel's softirq work for loopback TCP, processes that exited
    during the run) is the rest of the machine's busy time.
    """
    gunicorn_pids = listening_pids(port)
    before = cpu_of_every_process()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy_cpu()
    result = run_wrk(port, page.path, page.hosts, seconds, CONNECTIONS)
    busy = machine_busy_cpu() - busy
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    used: Counter[str] = Counter()
    for pid, (name, total) in cpu_of_every_process().items():
        group = group_of(pid, name, gunicorn_pids, backend_pids)
        used[group] += total - before.get(pid, (name, 0.0))[1]
    used[WRK] = sum(
        getattr(after_children, field) - getattr(children, field)
        for field in ("ru_utime", "ru_stime")
    )
    used[KERNEL_AND_GONE] = busy - sum(used.values())
    return CpuUse(result.requests, dict(used))


# --- the worker's CPU by step ------------------------------------------------------------------


def sample_worker(
    py_spy: str, pid: int, seconds: float, rate: int, keep: Path | None
) -> Counter[str]:
    """On-CPU py-spy samples of one worker for ``seconds``, counted by step."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as output:
        subprocess.run(
            [
                *(py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", str(rate)),
                *("--duration", str(round(seconds)), "--output", output.name),
            ],
            capture_output=True,
            check=True,
        )
        raw = Path(output.name).read_text()
    if keep is not None:
        keep.write_text(raw)
    steps: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        steps[step_of(stack)] += int(count)
    return steps


def step_of(stack: str) -> str:
    for step, markers in STEPS:
        if any(marker in stack for marker in markers):
            return step
    return "other"


def while_loading(page: Page, port: int, seconds: float, work: Callable[[], Counter[str]]):
    """Run ``work`` while wrk loads ``page`` (starting a second in, ending before wrk)."""
    load = threading.Thread(
        target=run_wrk, args=(port, page.path, page.hosts, seconds + 2, CONNECTIONS)
    )
    load.start()
    time.sleep(1)
    try:
        return work()
    finally:
        load.join()


# --- the run -----------------------------------------------------------------------------------


def profile(options: argparse.Namespace, hello: Page, routed: Page, database_url: str) -> None:
    workers = WORKER_SETTINGS["sync"]
    with ExitStack() as servers:
        ports = {
            page.label: servers.enter_context(gunicorn(page, workers)) for page in (hello, routed)
        }
        for page in (hello, routed):  # warm up: pooled connections, prepared statements
            run_wrk(ports[page.label], page.path, page.hosts, 2, CONNECTIONS)
        backend_pids = database_backend_pids(database_url)
        uses = {
            page.label: measure_cpu(page, ports[page.label], options.duration, backend_pids)
            for page in (hello, routed)
        }
        worker = max(listening_pids(ports[routed.label]))  # workers fork after the master
        steps = while_loading(
            routed,
            ports[routed.label],
            options.duration,
            lambda: sample_worker(
                options.py_spy, worker, options.duration, options.rate, options.raw
            ),
        )
    report_cpu(uses)
    report_steps(steps, uses[routed.label])


def rows_to_show(uses: dict[str, CpuUse]) -> list[str]:
    """The serving groups, then the three busiest other programs, then the rest."""
    others: Counter[str] = Counter()
    for use in uses.values():
        for group, seconds in use.seconds.items():
            if group.startswith("other: "):
                others[group] += seconds
    busiest = [group for group, _ in others.most_common(3)]
    return [GUNICORN, BENCH_BACKENDS, REDIS, WRK, OTHER_POSTGRES, *busiest, KERNEL_AND_GONE]


def report_cpu(uses: dict[str, CpuUse]) -> None:
    rows = rows_to_show(uses)
    print("CPU per request, microseconds (2 sync workers, wrk 32 connections):")
    print(f"  {'':<64}" + "".join(f"{label[:22]:>24}" for label in uses))
    for row in [*rows, "other programs (the rest)"]:
        cells = ""
        for use in uses.values():
            seconds = (
                use.seconds.get(row, 0.0)
                if row in rows
                else sum(s for group, s in use.seconds.items() if group not in rows)
            )
            cells += f"{seconds / use.requests * 1e6:>24.0f}"
        print(f"  {row[:64]:<64}{cells}")
    totals = "".join(
        f"{sum(use.seconds.values()) / use.requests * 1e6:>24.0f}" for use in uses.values()
    )
    print(f"  {'all (the machine busy time / requests)':<64}{totals}")
    served = "".join(f"{use.requests:>24,}" for use in uses.values())
    print(f"  {'requests in the run':<64}{served}")


def report_steps(steps: Counter[str], routed: CpuUse) -> None:
    """Split the routed page's gunicorn CPU per request in the proportions py-spy saw."""
    gunicorn_us = routed.seconds[GUNICORN] / routed.requests * 1e6
    total = sum(steps.values())
    print(f"Gunicorn CPU of one routed request ({gunicorn_us:.0f} us) by step, from {total}")
    print("on-CPU samples of one worker:")
    for step, count in steps.most_common():
        print(f"  {count / total * gunicorn_us:6.0f} us  {count / total:5.1%}  {step}")


def main() -> None:
    options = parse_options()
    with bench_app() as bench:
        from app.extensions import db

        bench_provisioning(bench.app, options.settings)
        hello, one_setting, spread = pages_to_load(setting_slugs(bench.app))
        with bench.app.app_context():  # only gunicorn's connections during the profile
            db.engine.dispose()
        if not options.in_process:
            routed = spread if options.spread else one_setting
            profile(options, hello, routed, bench.database_url)
        from tenants.slugs import schema_name_for

        schema_name = schema_name_for(slug_for(1))
        add_account_page_person(bench.app, slug_for(1))
        report_variants(measure_variants(one_setting.hosts[0], schema_name))
        measure_steps(one_setting.hosts[0], schema_name)


if __name__ == "__main__":
    main()
