"""deploy/gunicorn.conf.py's three pools: pages, and the sign-in POSTs and the uploads Caddy
sends apart."""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

from app.config import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"
GONE = 2**22 + 1  # above Linux's largest pid: no process has it


def config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pool: str | None, **environment: str
) -> dict:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in (
        "LJ_POOL",
        "LJ_BIND",
        "LJ_SIGN_IN_BIND",
        "LJ_UPLOAD_BIND",
        "WEB_CONCURRENCY",
        "LJ_SIGN_IN_NICE",
    ):
        monkeypatch.delenv(name, raising=False)
    if pool is not None:
        monkeypatch.setenv("LJ_POOL", pool)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_the_page_pool_is_the_default_with_two_sync_workers_a_core_and_one(monkeypatch, tmp_path):
    pages = config(monkeypatch, tmp_path, None)
    assert pages["bind"] == "127.0.0.1:8000" and pages["worker_class"] == "sync"
    assert pages["workers"] == 2 * len(os.sched_getaffinity(0)) + 1


def test_the_sign_in_pool_has_one_sync_worker_a_core_on_its_own_port(monkeypatch, tmp_path):
    sign_in = config(monkeypatch, tmp_path, "sign-in")
    assert sign_in["bind"] == "127.0.0.1:8001" and sign_in["worker_class"] == "sync"
    assert sign_in["workers"] == len(os.sched_getaffinity(0))


def test_the_upload_pool_has_one_sync_worker_a_core_on_its_own_port(monkeypatch, tmp_path):
    uploads = config(monkeypatch, tmp_path, "uploads")
    assert uploads["bind"] == "127.0.0.1:8002" and uploads["worker_class"] == "sync"
    assert uploads["workers"] == len(os.sched_getaffinity(0))


def test_an_unknown_pool_stops_the_start_naming_the_choices(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="pages, sign-in or uploads"):
        config(monkeypatch, tmp_path, "signin")


def test_a_start_clears_the_samples_of_processes_gone_and_keeps_the_other_pools(
    monkeypatch, tmp_path
):
    live = tmp_path / f"counter_{os.getpid()}.db"
    gone = tmp_path / f"gauge_livesum_{GONE}.db"
    live.write_bytes(b"samples")
    gone.write_bytes(b"samples")
    config(monkeypatch, tmp_path, "sign-in")["on_starting"](None)
    assert live.exists() and not gone.exists()


def niceness_of_a_worker(settings: dict) -> int:
    """How much lower than this process's a worker of the pool runs, once forked: the hook
    runs in a child process, as gunicorn runs it in each worker it forks."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through the pipe)
        settings["post_fork"](None, None)
        os.write(write, str(os.nice(0)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as answer:
        return int(answer.read()) - os.nice(0)


def test_sign_in_workers_run_at_nice_10_and_the_other_pools_at_the_masters(monkeypatch, tmp_path):
    assert niceness_of_a_worker(config(monkeypatch, tmp_path, "sign-in")) == 10
    assert niceness_of_a_worker(config(monkeypatch, tmp_path, "pages")) == 0
    assert niceness_of_a_worker(config(monkeypatch, tmp_path, "uploads")) == 0


def test_the_sign_in_workers_niceness_can_be_set_and_is_checked(monkeypatch, tmp_path):
    at_0 = config(monkeypatch, tmp_path, "sign-in", LJ_SIGN_IN_NICE="0")
    assert niceness_of_a_worker(at_0) == 0
    with pytest.raises(SystemExit, match="0 to 19"):
        config(monkeypatch, tmp_path, "sign-in", LJ_SIGN_IN_NICE="20")
    with pytest.raises(ConfigError, match="LJ_SIGN_IN_NICE must be a whole number"):
        config(monkeypatch, tmp_path, "sign-in", LJ_SIGN_IN_NICE="ten")
