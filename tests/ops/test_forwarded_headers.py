"""gunicorn believes X-Forwarded-* only when PROXY_HOPS says a proxy is in front."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time

from tests.ops.https import PROJECT_ROOT, free_port


def _hsts_when_forwarded_as_https(work_dir, proxy_hops: str) -> str | None:
    """Start gunicorn as deployed, send it ``X-Forwarded-Proto: https`` from loopback
    over plain HTTP; the app sends HSTS only to requests it believes came over HTTPS."""
    port = free_port()
    env = {**os.environ, "PROXY_HOPS": proxy_hops, "PYTHONUNBUFFERED": "1"}
    env["PROMETHEUS_MULTIPROC_DIR"] = str(work_dir / f"metrics-{port}")
    command = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
    command += ["-b", f"127.0.0.1:{port}", "-w", "1", "wsgi:app"]
    log = (work_dir / f"gunicorn-{port}.log").open("wb")
    server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (work_dir / f"gunicorn-{port}.log").read_text()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request(
                    "GET", "/healthz", headers={"Host": "localhost", "X-Forwarded-Proto": "https"}
                )
                response = connection.getresponse()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        assert response.status == 200
        return response.getheader("Strict-Transport-Security")
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def test_without_a_proxy_a_forwarded_scheme_from_loopback_is_ignored(app, tmp_path):
    assert _hsts_when_forwarded_as_https(tmp_path, "0") is None


def test_behind_a_proxy_on_loopback_its_forwarded_scheme_is_believed(app, tmp_path):
    assert _hsts_when_forwarded_as_https(tmp_path, "1") is not None
