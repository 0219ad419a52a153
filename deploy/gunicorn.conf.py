"""gunicorn for Learning Journals: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Read by the gunicorn master before the app is loaded. Every value can be changed
on the command line (``bin/run`` serves on its own port with 2 workers); the
environment variables are in the README's configuration table.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from app.config import Config, int_setting

# The same checks as the app itself: a production start with a variable missing
# stops here, in the master, with the message naming it.
_config = Config()

# Three pools of this same app (docs/deploy.md, "Pools"). LJ_POOL=pages, the default, serves
# every page. The two others serve the requests Caddy sends them (the Caddyfile's matchers),
# whose CPU would otherwise hold page workers and queue pages behind them:
# - LJ_POOL=sign-in: the POSTs that check or hash a password and PIN (bcrypt, about 0.3 s of
#   CPU a sign-in; 40 people signing in at once, after a Redis restart or at 8 am, would
#   otherwise hold every page worker for seconds);
# - LJ_POOL=uploads: the forms that carry files (a phone's 12 MP photo is about 0.19 s of CPU
#   to check and re-encode).
POOLS = ("pages", "sign-in", "uploads")
POOL = os.environ.get("LJ_POOL", "pages")
if POOL not in POOLS:
    raise SystemExit(f"LJ_POOL must be pages, sign-in or uploads, not {POOL!r}")

# sched_getaffinity counts the cores this process may use.
_cores = len(os.sched_getaffinity(0))
if POOL == "pages":
    bind = os.environ.get("LJ_BIND", "127.0.0.1:8000")
    # Pages wait on PostgreSQL and Redis, so sync workers, two per core plus one, keep
    # every core busy while others wait (shared/FACTS.md: sync beat gthread for
    # database-bound pages).
    workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * _cores + 1)
elif POOL == "sign-in":
    bind = os.environ.get("LJ_SIGN_IN_BIND", "127.0.0.1:8001")
    # One sign-in at a time per core: bcrypt has the cores pages leave and never more
    # than that, so a burst queues here (in the listen backlog) instead of crowding
    # pages off the cores, and is worked through at the machine's bcrypt rate.
    workers = _cores
else:
    bind = os.environ.get("LJ_UPLOAD_BIND", "127.0.0.1:8002")
    # One upload at a time per core, for the same reason: a few staff sending photos at
    # once decode them in parallel, and never take more cores than the machine has
    # (measured against one worker and four: bench/README.md, "Load").
    workers = _cores
worker_class = "sync"

# How much lower a sign-in worker's CPU priority is than the other pools' (0 to 19; see
# post_fork below and docs/deploy.md, "Sign-in bursts").
SIGN_IN_NICE = int_setting("LJ_SIGN_IN_NICE", 10)
if not 0 <= SIGN_IN_NICE <= 19:
    raise SystemExit(f"LJ_SIGN_IN_NICE must be 0 to 19, not {SIGN_IN_NICE}")

# A request (a 20 MB photo upload is the largest, about 0.2 s of work) that takes
# longer than this is stuck: its worker is replaced.
timeout = 30
# On SIGTERM (a deploy or restart) requests in flight get this long to finish.
graceful_timeout = 20

# The app is built once, before the workers fork, so a broken start stops the
# master with its message instead of every worker failing in turn.
preload_app = True
# No control socket: gunicorn would put it in $HOME, shared by every instance.
control_socket_disable = True

# X-Forwarded-* from the one proxy in front (Caddy on this machine) is believed,
# from anyone else never. This is gunicorn's half of PROXY_HOPS: the app's ProxyFix
# takes the client address, scheme and host from exactly PROXY_HOPS proxies, and
# gunicorn trusts the forwarded scheme only from loopback, where Caddy connects from.
forwarded_allow_ips = "127.0.0.1,::1" if _config.PROXY_HOPS else ""

# No gunicorn access log: it only knows the raw path, and one-time links carry
# their token in the path (/activate/<token>). The app writes one JSON line per
# request with the route instead (app/ops/logs.py). Errors go to stderr (journald).
accesslog = None
errorlog = "-"
# gunicorn's own lines (workers starting, timing out) in the app's format too.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"lj": {"()": f"app.ops.logs.{_config.LOG_FORMAT.capitalize()}Formatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "lj",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False}},
    "root": {"level": "INFO", "handlers": []},  # the app adds its own (app/ops/logs.py)
}

# Prometheus in multiprocess mode: each worker writes its samples to files in this
# folder, and /metrics (answered by any worker) adds them up. prometheus_client
# reads the variable when first imported, so it is set before the app loads.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"lj-metrics-{os.getpid()}")
)


def on_starting(server: Any) -> None:
    """Clear the samples of processes that are gone: the two pools share the folder, so
    /metrics answered by either adds up both, and a pool's start must not wipe the other's
    live files."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        if not _process_alive(stale):
            stale.unlink()


def _process_alive(samples: Path) -> bool:
    """prometheus_client names each file after the process writing it (``counter_123.db``)."""
    pid = samples.stem.rpartition("_")[2]
    return pid.isdigit() and Path(f"/proc/{pid}").exists()


def post_fork(server: Any, worker: Any) -> None:
    """A sign-in worker runs at a lower priority (``LJ_SIGN_IN_NICE``, 10 unless set): when
    the cores are busy, pages and photos go first and bcrypt takes what they leave; on free
    cores it runs as fast as before. Its PIN thread, started later, inherits the priority."""
    if POOL == "sign-in":
        os.nice(SIGN_IN_NICE)


def child_exit(server: Any, worker: Any) -> None:
    """A worker that exits stops counting in the live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
