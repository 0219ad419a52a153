"""The production stack on loopback: Caddy (its internal CA) in front of gunicorn.

``HttpsStack`` runs ``deploy/Caddyfile`` and ``deploy/gunicorn.conf.py`` as they
are, in production mode, on free high ports, with gunicorn's page pool and sign-in
pool. ``Browser`` is just enough of a browser for the tests: it trusts only Caddy's
CA, keeps cookies the way RFC 6265 says (``http.cookiejar``), follows no redirect,
and sends every name to 127.0.0.1 (Python's resolver knows none of the test names).
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import urlsplit

from app.devservers import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BASE_DOMAIN = "journals.test"
FIRST_PART = 320 * 1024


class LoopbackHTTPSConnection(http.client.HTTPSConnection):
    """TLS to 127.0.0.1 with the URL's name as SNI and as the name checked."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class LoopbackHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> dict:
        return json.loads(self.body)


class _ForCookieJar:
    def __init__(self, headers: Message) -> None:
        self._headers = headers

    def info(self) -> Message:
        return self._headers


class Browser:
    def __init__(self, ca_file: Path) -> None:
        self.context = ssl.create_default_context(cafile=str(ca_file))
        self.jar = http.cookiejar.CookieJar()

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: dict | None = None
    ) -> Answer:
        parts = urlsplit(url)
        outgoing = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        self.jar.add_cookie_header(outgoing)
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = LoopbackHTTPSConnection(
                parts.hostname, parts.port, context=self.context, timeout=30
            )
        else:
            connection = LoopbackHTTPConnection(parts.hostname, parts.port, timeout=30)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(method, target, body=body, headers=dict(outgoing.header_items()))
            response = connection.getresponse()
            answer = Answer(response.status, response.msg, response.read())
        finally:
            connection.close()
        self.jar.extract_cookies(_ForCookieJar(answer.headers), outgoing)  # type: ignore[arg-type]
        return answer

    def post_start_of_body(self, url: str, content_length: int) -> Answer:
        """Announce a body of ``content_length`` bytes, send its first ``FIRST_PART`` bytes
        and read the answer: how a large upload looks to a server that refuses it early
        (Go's server reads up to 256 KiB of an unread body before answering)."""
        parts = urlsplit(url)
        connection = LoopbackHTTPSConnection(
            parts.hostname, parts.port, context=self.context, timeout=30
        )
        try:
            connection.putrequest("POST", parts.path)
            connection.putheader("Content-Type", "application/octet-stream")
            connection.putheader("Content-Length", str(content_length))
            connection.endheaders()
            connection.send(b"x" * min(FIRST_PART, content_length))
            response = connection.getresponse()
            return Answer(response.status, response.msg, response.read())
        finally:
            connection.close()

    def get(self, url: str, **headers: str) -> Answer:
        return self.request("GET", url, headers=headers)

    def cookie_sent_to(self, url: str) -> str | None:
        probe = urllib.request.Request(url)
        self.jar.add_cookie_header(probe)
        return probe.get_header("Cookie")


class HttpsStack:
    """gunicorn and Caddy as deployed, for one test module; ``stop()`` ends both."""

    def __init__(self, work_dir: Path, app_env: dict[str, str]) -> None:
        self.work_dir = work_dir
        self.app_port, self.http_port, self.https_port = free_port(), free_port(), free_port()
        self.sign_in_port, self.upload_port = free_port(), free_port()
        self.logs: list[Path] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            **app_env,
            "LJ_ENV": "production",
            "BASE_DOMAIN": BASE_DOMAIN,
            "PUBLIC_URL": f"https://{BASE_DOMAIN}:{self.https_port}",
            "PROMETHEUS_MULTIPROC_DIR": str(work_dir / "metrics"),
            "SMTP_SECURITY": "none",  # the tests' mail catcher, on this machine
            "PYTHONUNBUFFERED": "1",
        }
        for test_only in ("PASSWORD_BCRYPT_COST", "PIN_BCRYPT_COST", "RATELIMIT_ENABLED"):
            self.env.pop(test_only, None)
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
        gunicorn += ["-b", f"127.0.0.1:{self.app_port}", "-w", "2", "wsgi:app"]
        self._start("gunicorn", gunicorn, self.env)
        self._wait_for_port(self.app_port)
        self.start_sign_in_pool()
        self.start_upload_pool()
        caddy_home = work_dir / "caddy"
        caddy_env = {
            "PATH": os.environ["PATH"],
            "HOME": str(caddy_home),
            "XDG_DATA_HOME": str(caddy_home / "data"),
            "XDG_CONFIG_HOME": str(caddy_home / "config"),
            "BASE_DOMAIN": BASE_DOMAIN,
            "ACME_EMAIL": f"operator@{BASE_DOMAIN}",
            "LJ_APP_ADDRESS": f"127.0.0.1:{self.app_port}",
            "LJ_SIGN_IN_ADDRESS": f"127.0.0.1:{self.sign_in_port}",
            "LJ_UPLOAD_ADDRESS": f"127.0.0.1:{self.upload_port}",
            "LJ_STATIC_DIR": str(PROJECT_ROOT / "app" / "static"),
            "LJ_TLS_ISSUER": "internal",
            "LJ_HTTP_PORT": str(self.http_port),
            "LJ_HTTPS_PORT": str(self.https_port),
            "CADDY_ADMIN": "off",
        }
        caddy = ["caddy", "run", "--config", "deploy/Caddyfile", "--adapter", "caddyfile"]
        self._start("caddy", caddy, caddy_env)
        self._wait_for_port(self.https_port)
        self.ca_file = caddy_home / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        self._wait_for(self.ca_file.exists, "Caddy's root certificate")

    def start_sign_in_pool(self) -> None:
        """gunicorn's second pool, for the sign-in POSTs Caddy sends it (its log: logs[1])."""
        self.sign_in_pool = self._start_pool("sign-in", self.sign_in_port)

    def stop_sign_in_pool(self) -> None:
        self._stop_pool(self.sign_in_pool)

    def start_upload_pool(self) -> None:
        """gunicorn's third pool, for the forms with files Caddy sends it (its log: logs[2])."""
        self.upload_pool = self._start_pool("uploads", self.upload_port)

    def stop_upload_pool(self) -> None:
        self._stop_pool(self.upload_pool)

    def _start_pool(self, pool: str, port: int) -> subprocess.Popen[bytes]:
        gunicorn = [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
        gunicorn += ["-b", f"127.0.0.1:{port}", "-w", "1", "wsgi:app"]
        process = self._start(f"gunicorn-{pool}", gunicorn, {**self.env, "LJ_POOL": pool})
        self._wait_for_port(port)
        return process

    def _stop_pool(self, process: subprocess.Popen[bytes]) -> None:
        process.terminate()
        process.wait(15)
        self.processes.remove(process)

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log_path = self.work_dir / f"{name}.log"
        if log_path not in self.logs:
            self.logs.append(log_path)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.logs)

    def _wait_for(self, condition, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            dead = [p for p in self.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"waiting for {what}\n{self.log_text()}")
            time.sleep(0.05)

    def _wait_for_port(self, port: int) -> None:
        def answers() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return True
            except OSError:
                return False

        self._wait_for(answers, f"port {port}")

    def url(self, slug: str | None, path: str = "/", scheme: str = "https") -> str:
        host = BASE_DOMAIN if slug is None else f"{slug}.{BASE_DOMAIN}"
        port = self.https_port if scheme == "https" else self.http_port
        return f"{scheme}://{host}:{port}{path}"

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
