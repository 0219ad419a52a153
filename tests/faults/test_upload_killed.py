"""A web worker killed (SIGKILL) in the middle of a photo upload leaves no orphan file:
the files it wrote are recorded for deletion before a byte is written, and the
``file-deletions`` job removes them once the upload can no longer commit."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from sqlalchemy import func, select

from app import clock
from app.devservers import free_port, port_answers
from app.extensions import db
from app.journal.models import Photo
from app.journal.storage import ABANDONED_AFTER, WAITING_FOLDER
from tests.helpers.clients import csrf_token
from tests.helpers.journal import observe, signed_in
from tests.helpers.people import inside
from tests.helpers.workers import wait_until
from tests.journal.images import encode, noise_photo

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn(app):
    """gunicorn serving the test app (its database, Redis and media) with one sync worker."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}"]
    command += ["--no-control-socket", "--timeout", "120", "wsgi:app"]
    master = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_until(lambda: port_answers(port), 30, "gunicorn to answer")
    wait_until(lambda: psutil.Process(master.pid).children(), 30, "gunicorn's worker")
    yield port, master
    master.terminate()
    master.wait(15)


def _multipart(fields: dict[str, str], photo: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def _upload(
    port: int, host: str, path: str, cookie: str, body: bytes, boundary: str, answers: list
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Host": host,
                "Cookie": f"lj_session={cookie}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Referer": f"http://{host}{path}",
            },
        )
        response = connection.getresponse()
        answers.append((response.status, response.read()))
    except (OSError, http.client.HTTPException):
        pass  # the worker died under it: that is the point


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _named_by_rows(app, slug: str) -> set[str]:
    with inside(app, slug):
        rows = db.session.execute(select(Photo.file_name, Photo.thumbnail_name)).all()
    return {name for row in rows for name in row}


def test_a_worker_killed_mid_upload_leaves_no_file_that_no_row_names(app, family, gunicorn):
    port, master = gunicorn
    clock.reset()  # gunicorn's clock is the real one: so must the session's times be
    [worker] = psutil.Process(master.pid).children()
    observation_id = observe(app, family, [family.child_a_id], "At the easel.", publish=False)
    staff = signed_in(app, family, "staff")
    token = csrf_token(staff, "/login")
    # The request keeps the upload's bytes in the waiting folder (processed after its commit).
    folder = Path(app.config["LJ"].MEDIA_ROOT) / WAITING_FOLDER / family.slug
    before = _files(folder)
    body, boundary = _multipart(
        {"csrf_token": token, "caption": ""}, encode(noise_photo(3000, 2000))
    )
    answers: list[tuple[int, bytes]] = []  # only if the worker answered after all
    upload = threading.Thread(
        target=_upload,
        args=(
            port,
            f"{family.slug}.localhost",
            f"/journal/observations/{observation_id}/photos",
            staff.session_cookie(),
            body,
            boundary,
            answers,
        ),
    )

    upload.start()
    deadline = time.monotonic() + 60
    while not {n for n in _files(folder) - before if not n.startswith(".")}:
        assert time.monotonic() < deadline, f"the upload never wrote its photo: {answers}"
    os.kill(worker.pid, signal.SIGKILL)  # the photo is on disk; its row is not committed
    upload.join(60)

    left = _files(folder) - before
    assert left, "nothing was written before the kill"
    with inside(app, family.slug):
        assert db.session.scalar(select(func.count()).select_from(Photo)) == 0, (
            "killed too late: the upload had committed"
        )

    clock.advance(ABANDONED_AFTER + timedelta(minutes=1))
    result = app.test_cli_runner().invoke(args=["jobs", "run", "file-deletions"])
    assert result.exit_code == 0, result.output
    assert _files(folder) - before - _named_by_rows(app, family.slug) == set()
