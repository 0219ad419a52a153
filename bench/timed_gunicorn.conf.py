"""``deploy/gunicorn.conf.py`` as deployed, plus hooks that time where each request's time goes.

For ``bench/load.py --split`` only (never deployed). Every setting of the deployed file is
read as it is; this file only adds gunicorn's ``pre_request`` / ``post_request`` hooks and
wraps three calls, and the worker (sync: one request at a time) writes one JSON line a
request to ``$LJ_BENCH_TIMINGS/<pid>.jsonl``:

- ``id``: the request's X-Request-Id (the app answers with it), to join the bench's own timing;
- ``wall``: seconds from the parsed request head to the answer written (the body is read
  from the socket inside this, as the form is parsed);
- ``cpu``: CPU seconds of the worker process (every thread: a sign-in's PIN check runs on one);
- ``waiting_for_core``: seconds the worker's main thread was ready to run but had no core
  (the kernel's run-queue wait, ``/proc/thread-self/schedstat``);
- ``blocked``: seconds the main thread was neither running nor waiting for a core
  (``wall`` less its run time and its run-queue wait): waiting on a disk, a socket or a lock;
- of which ``fsync`` (the stored files and their folder) and ``postgres`` (psycopg's
  ``execute`` and ``commit``: round trips, and the commit's wait for PostgreSQL's log flush);
- ``photo``: wall seconds in the photo's own work, its waits for a core included: in an
  upload, ``check_upload`` (header and structure; the decode is the photo worker's); in a
  photo's GET, ``make_ready`` when it makes a photo its worker has not made yet.

The rest of ``blocked`` is other waits: the body arriving, Redis, a sign-in's PIN thread.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

_DEPLOYED = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"
exec(compile(_DEPLOYED.read_text(), str(_DEPLOYED), "exec"))  # every deployed setting

_spent: dict[str, float] = {"fsync": 0.0, "postgres": 0.0, "photo": 0.0}
_started: dict[str, float] = {}


def _thread_times() -> tuple[float, float]:
    """Seconds this thread has run, and waited on a run queue for a core, so far."""
    running, waiting, _ = Path("/proc/thread-self/schedstat").read_text().split()
    return int(running) / 1e9, int(waiting) / 1e9


def _blocked(kind: str, function: Any) -> Any:
    """``function``, adding to ``_spent[kind]`` the time its calls were blocked (off a core
    and not waiting for one)."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        started, (ran, waited) = time.perf_counter(), _thread_times()
        try:
            return function(*args, **kwargs)
        finally:
            running, waiting = _thread_times()
            elapsed = time.perf_counter() - started
            _spent[kind] += elapsed - (running - ran) - (waiting - waited)

    return timed


def _walled(kind: str, function: Any) -> Any:
    """``function``, adding its calls' wall time to ``_spent[kind]``."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _spent[kind] += time.perf_counter() - started

    return timed


# Wrapped in the master, before the app is loaded and the workers fork.
os.fsync = _blocked("fsync", os.fsync)


_deployed_post_fork = post_fork  # noqa: F821 (defined by the deployed file)


def post_fork(server: Any, worker: Any) -> None:
    """The deployed hook, then psycopg's and the view's functions wrapped in each worker
    (the app is preloaded)."""
    _deployed_post_fork(server, worker)
    import psycopg

    import app.journal.views

    psycopg.Cursor.execute = _blocked("postgres", psycopg.Cursor.execute)  # type: ignore[method-assign]
    psycopg.Connection.commit = _blocked("postgres", psycopg.Connection.commit)  # type: ignore[method-assign]
    views: Any = app.journal.views
    views.check_upload = _walled("photo", views.check_upload)
    views.make_ready = _walled("photo", views.make_ready)


def pre_request(worker: Any, req: Any) -> None:
    for kind in _spent:
        _spent[kind] = 0.0
    running, waiting = _thread_times()
    _started.update(wall=time.perf_counter(), cpu=time.process_time(), run=running, ready=waiting)


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    headers = dict((resp.headers if resp is not None else None) or [])
    wall, (running, waiting) = time.perf_counter() - _started["wall"], _thread_times()
    waiting_for_core = waiting - _started["ready"]
    line = {
        "id": headers.get("X-Request-Id", ""),
        "wall": wall,
        "cpu": time.process_time() - _started["cpu"],
        "waiting_for_core": waiting_for_core,
        "blocked": wall - (running - _started["run"]) - waiting_for_core,
        **_spent,
    }
    folder = Path(os.environ["LJ_BENCH_TIMINGS"])
    with (folder / f"{os.getpid()}.jsonl").open("a") as file:
        file.write(json.dumps(line) + "\n")
