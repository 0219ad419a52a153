"""``bin/run``'s program from the outside: the whole service on embedded servers, stopped by
Ctrl-C with nothing left running, started again on the same data, stopped whole when one of its
processes dies; and its mail catcher."""

from __future__ import annotations

import email
import http.client
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import psycopg
import pytest

from app.devservers import free_port, port_answers
from tenants.slugs import schema_name_for

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Variables the test session may have set for its own servers; the stack must do without them.
NOT_PASSED_ON = {
    "DATABASE_URL",
    "REDIS_URL",
    "SMTP_HOST",
    "PUBLIC_URL",
    "LJ_EXTRA_JOBS",
    "LJ_TASKS_IN_PROCESS",
}


def _running(pid: int) -> bool:
    """True while the process exists and has not exited (a zombie has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_for(condition, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            shown = f"\n--- log ---\n{log.read_text(errors='replace')}" if log else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{shown}")
        time.sleep(0.1)


def _get(port: int, host: str) -> tuple[int, str]:
    # Python's resolver does not resolve *.localhost: connect to 127.0.0.1, name the host.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/", headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


class DevStack:
    """One run of ``learning-journals`` with its output in a log file."""

    def __init__(self, data_dir: Path, web_port: int, mail_port: int, log_path: Path) -> None:
        self.log_path = log_path
        self.web_port = web_port
        env = {key: value for key, value in os.environ.items() if key not in NOT_PASSED_ON}
        env.update(
            {
                "LJ_DATA_DIR": str(data_dir),
                "LJ_WEB_PORT": str(web_port),
                "SMTP_PORT": str(mail_port),
                "BASE_DOMAIN": "localhost",
            }
        )
        script = Path(sys.executable).parent / "learning-journals"
        command = [str(script)] if script.exists() else [sys.executable, "-m", "app.devstack"]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the stack exited early:\n{self.log()}")
            return "Press Ctrl-C to stop." in self.log()

        _wait_for(ready, 90, "the stack to start", self.log_path)

    def pids(self) -> set[int]:
        """Every process it started and named: its children and the embedded servers."""
        return {int(pid) for pid in re.findall(r"\(pid (\d+)\)", self.log())}

    def child_pid(self, name: str) -> int:
        found = re.search(rf"Started {name} \(pid (\d+)\)", self.log())
        assert found, self.log()
        return int(found.group(1))

    def get(self, host: str) -> tuple[int, str]:
        return _get(self.web_port, f"{host}:{self.web_port}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(45)

    def kill_leftovers(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        for pid in self.pids():
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data folder outside pytest's: every pytest run that starts resets the modes of
    /tmp/pytest-of-<user> to 0700, which would lock pgserver's own user out of its data."""
    folder = Path(tempfile.mkdtemp(prefix="lj-devstack-"))
    yield folder / "var"
    shutil.rmtree(folder, ignore_errors=True)


def _mail_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "mail").glob("*.eml"))


def _add_marker(database_url: str, email: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f'SET search_path TO "{schema_name_for("sunnyside")}"')
        connection.execute(
            "INSERT INTO users (email, full_name, role, status) "
            "VALUES (%s, 'Kept Across Runs', 'staff', 'invited')",
            (email,),
        )


def _has_marker(database_url: str, email: str) -> bool:
    with psycopg.connect(database_url) as connection:
        connection.execute(f'SET search_path TO "{schema_name_for("sunnyside")}"')
        row = connection.execute("SELECT count(*) FROM users WHERE email = %s", (email,))
        return row.fetchone() == (1,)


def _database_url(log: str) -> str:
    found = re.search(r"PostgreSQL\s+embedded, (\S+)", log)
    assert found, log
    return found.group(1)


def _job_run_from_another_terminal(data_dir: Path, job: str) -> subprocess.CompletedProcess:
    """``flask jobs run`` in a shell of its own, as the README says, against the running
    stack's embedded servers (the test session's own server URLs are not passed on)."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_PASSED_ON}
    env["LJ_DATA_DIR"] = str(data_dir)
    flask = Path(sys.executable).parent / "flask"
    command = f"set -e; set -a; . {data_dir}/servers.env; set +a; {flask} --app wsgi jobs run {job}"
    return subprocess.run(
        ["bash", "-c", command], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )


def test_run_serves_sunnyside_stops_on_ctrl_c_reuses_its_data_and_stops_if_a_child_dies(
    tmp_path, data_dir
):
    web_port, mail_port = free_port(), free_port()
    marker = "kept-across-runs@sunnyside.example"

    first = DevStack(data_dir, web_port, mail_port, tmp_path / "first.log")
    try:
        first.wait_ready()
        status, page = first.get("sunnyside.localhost")
        assert status == 200 and "Sunnyside Nursery" in page
        status, page = first.get("localhost")
        assert status == 200 and "Learning Journals" in page
        assert "created now" in first.log()
        # The invitation goes through the outbox: the worker delivers it.
        _wait_for(lambda: _mail_files(data_dir), 30, "the invitation", first.log_path)
        invitations = _mail_files(data_dir)
        assert len(invitations) == 1
        invitation = email.message_from_bytes(invitations[0].read_bytes(), policy=default)
        assert invitation["To"] == "manager@sunnyside.example"
        text = invitation.get_body(preferencelist=("plain",)).get_content()
        assert f"http://sunnyside.localhost:{web_port}/activate/" in text
        assert "Subject:" in first.log() and str(data_dir / "mail") in first.log()
        database_url = _database_url(first.log())
        _add_marker(database_url, marker)
        ran = _job_run_from_another_terminal(data_dir, "deactivation-sweep")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        started = first.pids()
        assert len(started) == 7, first.log()  # 5 children, PostgreSQL, Redis

        assert first.interrupt() == 0, first.log()
        still_running = [pid for pid in started if _running(pid)]
        assert still_running == [], first.log()
        assert not port_answers(web_port) and not port_answers(mail_port)
        assert "Everything stopped." in first.log()
        assert not (data_dir / "servers.env").exists(), "it named servers no longer running"
    finally:
        first.kill_leftovers()

    second = DevStack(data_dir, web_port, mail_port, tmp_path / "second.log")
    try:
        second.wait_ready()
        status, page = second.get("sunnyside.localhost")
        assert status == 200 and "Sunnyside Nursery" in page
        assert "already there (id 1, active)" in second.log()
        assert _has_marker(_database_url(second.log()), marker)
        assert len(_mail_files(data_dir)) == 1, "the manager was invited a second time"
        started = second.pids()

        os.kill(second.child_pid("beat"), signal.SIGKILL)

        assert second.process.wait(45) == 1, second.log()
        assert "beat stopped unexpectedly" in second.log()
        assert [pid for pid in started if _running(pid)] == [], second.log()
    finally:
        second.kill_leftovers()


def test_mail_catcher_prints_each_message_and_saves_it_as_eml(tmp_path):
    port = free_port()
    mail_dir = tmp_path / "mail"
    log_path = tmp_path / "catcher.log"
    command = [
        sys.executable,
        "-m",
        "app.mail_catcher",
        "--port",
        str(port),
        "--dir",
        str(mail_dir),
    ]
    with log_path.open("wb") as log:
        catcher = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(lambda: port_answers(port), 15, "the catcher to listen", log_path)
        message = EmailMessage()
        message["From"] = "Learning Journals <no-reply@localhost>"
        message["To"] = "anna@example.org"
        message["Subject"] = "Reset your password"
        message.set_content("Open http://sunnyside.localhost:5000/reset/abc to choose one.\n")
        message.add_alternative("<p>Open the link.</p>", subtype="html")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(message)

        _wait_for(lambda: list(mail_dir.glob("*.eml")), 5, "the .eml file", log_path)
        saved = next(mail_dir.glob("*.eml")).read_text()
        assert "Subject: Reset your password" in saved and "<p>Open the link.</p>" in saved
        shown = log_path.read_text()
        for line in ("From:    Learning Journals", "To:      anna@example.org"):
            assert line in shown
        assert "Subject: Reset your password" in shown
        assert "sunnyside.localhost:5000/reset/abc" in shown
        assert "<p>" not in shown, "the catcher printed the HTML part, not the text part"

        catcher.send_signal(signal.SIGTERM)
        assert catcher.wait(10) == 0
    finally:
        if catcher.poll() is None:
            catcher.kill()
            catcher.wait(5)


@pytest.mark.parametrize("variable", ["LJ_WEB_PORT", "SMTP_PORT"])
def test_run_refuses_a_port_already_in_use_with_a_clear_message(tmp_path, data_dir, variable):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = {"LJ_WEB_PORT": free_port(), "SMTP_PORT": free_port(), variable: busy}
        stack = DevStack(data_dir, ports["LJ_WEB_PORT"], ports["SMTP_PORT"], tmp_path / "log")
        try:
            assert stack.process.wait(60) == 1
        finally:
            stack.kill_leftovers()
    assert f"port {busy} is already in use" in stack.log(), stack.log()
    assert variable in stack.log()
    assert [pid for pid in stack.pids() if _running(pid)] == []
