"""The whole service on loopback, with servers of the bench's own: for load and fault runs.

``own_stack()`` starts, in a temporary folder removed at the end:

- PostgreSQL of its own (pgserver, on a Unix socket in that folder) and Redis of its own
  (``redis-server`` on a free loopback port, append-only as docs/deploy.md sets it up):
  never the machine's shared 5432 / 6379 servers, since a fault run stops and restarts
  them and other people's tests use those;
- an SMTP server in this process that accepts every message and counts each Message-ID
  (so a run can tell an email delivered twice from one delivered once);
- the service as deployed: gunicorn's page pool, sign-in pool and upload pool
  (``deploy/gunicorn.conf.py`` with ``LJ_POOL``), a Celery worker and Celery beat (the
  commands of ``app/devstack.py``).

``Stack.port_for(method, path, content_type)`` routes a request as Caddy does (the
``@sign_in`` and ``@upload`` matchers of ``deploy/Caddyfile``, read from the file).
``cpu_seconds()`` reads from ``/proc`` the CPU time each part has used so far, for the CPU
split of a run.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make `bench.*` importable

from bench.tenancy import free_port, set_environment, wait_for_port  # noqa: E402

CADDYFILE = REPO_ROOT / "deploy" / "Caddyfile"
GUNICORN_CONF = REPO_ROOT / "deploy" / "gunicorn.conf.py"
TIMED_GUNICORN_CONF = REPO_ROOT / "bench" / "timed_gunicorn.conf.py"  # the same, timed
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POOLS = ("pages", "sign-in", "uploads")  # gunicorn's pools (LJ_POOL)


# --- routing as Caddy does ---------------------------------------------------------------------


def _post_matcher(name: str, condition: str) -> str:
    """The argument of the Caddyfile's ``@name`` matcher's one ``condition`` line (POST only)."""
    block = re.search(rf"@{name} \{{(.*?)\}}", CADDYFILE.read_text(), re.DOTALL)
    if block is None:
        raise RuntimeError(f"{CADDYFILE} has no @{name} matcher")
    found = re.search(rf"^\s*{condition} (.+)$", block[1], re.MULTILINE)
    if found is None or "method POST" not in block[1]:
        raise RuntimeError(f"the @{name} matcher is not `method POST` + `{condition} ...`")
    return found[1]


def sign_in_routes() -> list[str]:
    """The path patterns of the Caddyfile's ``@sign_in`` matcher (POST only)."""
    return _post_matcher("sign_in", "path").split()


def upload_content_type() -> str:
    """The Content-Type pattern of the Caddyfile's ``@upload`` matcher (POST only)."""
    header, pattern = _post_matcher("upload", "header").split()
    if header != "Content-Type":
        raise RuntimeError(f"the @upload matcher looks at {header}, not Content-Type")
    return pattern


# --- servers of our own ------------------------------------------------------------------------


class OwnPostgres:
    """PostgreSQL (pgserver) in ``folder``; ``stop()`` and ``start()`` keep its data and URL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server: Any = None
        self.start()

    def start(self) -> None:
        from app.devservers import embedded_postgres

        url, self.server = embedded_postgres(self.folder)
        from sqlalchemy.engine import make_url

        self.url = make_url(url).set(drivername="postgresql").render_as_string(False)

    def stop(self) -> None:
        self.server.cleanup()

    @property
    def pid(self) -> int:
        return int(self.server.get_pid())


class OwnRedis:
    """``redis-server`` on a free loopback port, append-only (fsync every second) in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server") or str(Path(sys.executable).with_name("redis-server"))
        self.folder.mkdir(parents=True, exist_ok=True)
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        options += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        options += ["--maxmemory-policy", "noeviction", "--logfile", "redis.log"]
        self.process = subprocess.Popen([binary, *options])
        wait_for_port(self.port, self.process, "Redis")

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and exits, as ``systemctl stop`` does."""
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=30)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


@dataclass
class CountingSmtp:
    """An SMTP server in this process that counts the messages it accepts, by Message-ID.

    ``delay`` holds each answer to DATA for that many seconds (``receiving`` is set
    meanwhile), so a fault run can kill the worker in the middle of a delivery; a message
    whose sender is gone by the time the answer would go is not accepted, as with a real
    server.
    """

    port: int = field(default_factory=free_port)
    received: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0
    receiving: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: object, envelope: Any) -> str:
        import asyncio
        from email import message_from_bytes

        message_id = message_from_bytes(envelope.content).get("Message-ID", "")
        if self.delay:
            self.receiving.set()
            await asyncio.sleep(self.delay)
            if server.transport is None or server.transport.is_closing():
                return "451 the sender went away"
        with self.lock:
            self.received[message_id] += 1
        return "250 OK"

    @contextmanager
    def running(self) -> Iterator[CountingSmtp]:
        from aiosmtpd.controller import Controller

        controller = Controller(self, hostname="127.0.0.1", port=self.port)
        controller.start()
        try:
            yield self
        finally:
            controller.stop()


# --- the service -------------------------------------------------------------------------------


@dataclass
class Part:
    """One process of the service (with its children), restartable by the bench."""

    name: str
    command: list[str]
    environment: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env={**os.environ, **self.environment},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                process_group=0,
            )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


@dataclass
class Stack:
    folder: Path
    postgres: OwnPostgres
    redis: OwnRedis
    smtp: CountingSmtp
    ports: dict[str, int]  # each pool's
    parts: dict[str, Part]
    sign_in_paths: list[str]
    upload_content_type: str

    @property
    def page_port(self) -> int:
        return self.ports["pages"]

    def port_for(self, method: str, path: str, content_type: str = "") -> int:
        """The pool Caddy sends this request to."""
        return self.ports[self.pool_for(method, path, content_type)]

    def pool_for(self, method: str, path: str, content_type: str) -> str:
        if method != "POST":
            return "pages"
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in self.sign_in_paths):
            return "sign-in"
        if fnmatch.fnmatchcase(content_type, self.upload_content_type):
            return "uploads"
        return "pages"

    def timings(self) -> dict[str, dict[str, float]]:
        """Each request's timed parts by request id, as the pools wrote them (``timed``)."""
        lines = [
            json.loads(line)
            for path in (self.folder / "timings").glob("*.jsonl")
            for line in path.read_text().splitlines()
        ]
        return {line.pop("id"): line for line in lines}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each part, its servers, this process and the machine."""
        trees = process_tree_cpu(
            {
                **{f"web: {pool}": [self.parts[pool].pid] for pool in POOLS},
                "worker": [self.parts["worker"].pid],
                "photo worker": [self.parts["photo-worker"].pid],
                "beat": [self.parts["beat"].pid],
                "postgres": [self.postgres.pid],
                "redis": [self.redis.pid],
            }
        )
        own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        trees["load generator"] = (int(own[11]) + int(own[12])) / CLOCK_TICKS
        trees["machine"] = machine_cpu_seconds()
        return trees


def machine_cpu_seconds() -> float:
    """Every core's busy time so far (all but idle and iowait), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


def process_tree_cpu(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds of each group's processes and all their descendants (from /proc).

    A live process's own time plus the time of the children it has reaped
    (``cutime``/``cstime``): a PostgreSQL backend or a killed worker that ended
    still counts, in its parent's.
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        ticks[pid] = sum(int(value) for value in fields[11:15])
    group_of = {pid: name for name, pids in roots.items() for pid in pids}
    totals = dict.fromkeys(roots, 0)
    for pid, cpu in ticks.items():
        ancestor = pid
        while ancestor > 1 and ancestor not in group_of:
            ancestor = parents.get(ancestor, 0)
        if ancestor in group_of:
            totals[group_of[ancestor]] += cpu
    return {name: total / CLOCK_TICKS for name, total in totals.items()}


def gunicorn_pool(
    folder: Path,
    port: int,
    pool: str,
    *arguments: str,
    name: str | None = None,
    config: Path = GUNICORN_CONF,
) -> Part:
    """gunicorn as deployed (``deploy/gunicorn.conf.py``, ``LJ_POOL=pool``) on ``port``;
    ``arguments`` override the configuration, as on gunicorn's command line."""
    command = [sys.executable, "-m", "gunicorn", "-c", str(config)]
    command += ["--log-level", "warning", "-b", f"127.0.0.1:{port}", *arguments, "wsgi:app"]
    environment = {"LJ_POOL": pool, "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics")}
    return Part(name or pool, command, environment, folder / f"{name or pool}.log")


def _service_parts(folder: Path, ports: dict[str, int], config: Path) -> dict[str, Part]:
    from app.devstack import beat_command, photo_worker_command, worker_command

    return {
        **{pool: gunicorn_pool(folder, ports[pool], pool, config=config) for pool in POOLS},
        "worker": Part("worker", worker_command(), {}, folder / "worker.log"),
        "photo-worker": Part(
            "photo-worker", photo_worker_command(), {}, folder / "photo-worker.log"
        ),
        "beat": Part("beat", beat_command(folder / "celerybeat-schedule"), {}, folder / "beat.log"),
    }


@contextmanager
def own_stack(*, timed: bool = False, **environment: str) -> Iterator[Stack]:
    """Servers of our own and the whole service on them; ``environment`` is set on top (for
    this process's app and every part). Everything is stopped and removed at the end.

    ``timed``: the web pools write where each request's time went (``timings()``; see
    ``bench/timed_gunicorn.conf.py``)."""
    with ExitStack() as cleanup:
        folder = Path(tempfile.mkdtemp(prefix="lj-stack-"))
        cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
        if timed:
            (folder / "timings").mkdir()
            environment = {**environment, "LJ_BENCH_TIMINGS": str(folder / "timings")}
        postgres = OwnPostgres(folder / "pg")
        cleanup.callback(lambda: postgres.server and postgres.stop())
        redis_server = OwnRedis(folder / "redis")
        cleanup.callback(redis_server.stop)
        smtp = cleanup.enter_context(CountingSmtp().running())
        set_environment(postgres.url, redis_server.url, smtp.port, folder / "data")
        os.environ.update({"RATELIMIT_ENABLED": "0", **environment})
        os.environ.setdefault("TOTP_KEY", secrets.token_urlsafe(32))
        ports = {pool: free_port() for pool in POOLS}
        stack = Stack(
            folder,
            postgres,
            redis_server,
            smtp,
            ports,
            _service_parts(folder, ports, TIMED_GUNICORN_CONF if timed else GUNICORN_CONF),
            sign_in_routes(),
            upload_content_type(),
        )
        cleanup.callback(stop_parts, stack.parts.values())
        yield stack


def stop_parts(parts: Iterable[Part]) -> None:
    for part in parts:
        part.stop()


def start_service(stack: Stack) -> None:
    """Start every part (after the bench has written its data) and wait for every pool."""
    for part in stack.parts.values():
        part.start()
    for pool, port in stack.ports.items():
        wait_for_pool(stack.parts[pool], port)


def wait_for_pool(part: Part, port: int, seconds: float = 120) -> None:
    """Wait for gunicorn to listen (it preloads the app first: slow on a busy machine)."""

    def listening() -> bool:
        if part.process is None or part.process.poll() is not None:
            log = part.log.read_text(errors="replace")[-3000:] if part.log.exists() else ""
            raise RuntimeError(f"gunicorn's {part.name} pool exited:\n{log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    wait_until(listening, seconds, f"gunicorn's {part.name} pool listening on {port}")


def print_log_errors(stack: Stack, limit: int = 3) -> None:
    """The first tracebacks (and ERROR lines) each web pool logged, for a run that failed."""
    for name in POOLS:
        part = stack.parts[name]
        if not part.log.exists():
            continue
        lines = part.log.read_text(errors="replace").splitlines()
        starts = [n for n, line in enumerate(lines) if " ERROR " in line][:limit]
        for start in starts:
            print(f"--- {name}'s log, line {start + 1}", *lines[start : start + 40], sep="\n")


def wait_until(check: Any, seconds: float, what: str) -> float:
    """Poll ``check()`` until true; returns the seconds it took (raises after ``seconds``)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not within {seconds:.0f} s")
