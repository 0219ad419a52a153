"""Logs: JSON lines with request id, setting, user, route, status and time; no person in them.

The journey signs in (and fails to), invites and activates, resets a password and
uploads a photo, then searches every line written for each address, name,
password, PIN, token and query string it used.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from app.ops.logs import JsonFormatter, TextFormatter
from tests.fixtures.smtp import text_of
from tests.helpers.clients import client_for, csrf_token, post_form
from tests.helpers.journal import observe, photo_bytes, signed_in, upload
from tests.helpers.people import PASSWORD, PIN

INVITEE_NAME = "Priya O'Neill-Shah"
INVITEE_EMAIL = "priya.oneill-shah@example.org"
NEW_PASSWORD = "lanterns over the quiet harbour"
NEW_PIN = "731942"
RESET_PASSWORD = "copper kettles sing at dawn"
RESET_PIN = "586203"
WRONG_PASSWORD = "definitely not the password"
WRONG_PIN = "118355"
QUERY_SECRET = "query-secret-7f3a9"
PHOTO_NAME = "Bartholomew Quince at the easel.jpg"


class Lines(logging.Handler):
    """Every line the app writes while the test runs, as each of our formatters writes it."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.json: list[str] = []
        self.text: list[str] = []
        self.json_formatter, self.text_formatter = JsonFormatter(), TextFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.json.append(self.json_formatter.format(record))
        self.text.append(self.text_formatter.format(record))

    def everything(self) -> str:
        return "\n".join(self.json + self.text)


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    root = logging.getLogger()
    lines = Lines()
    level = root.level
    root.addHandler(lines)
    root.setLevel(logging.INFO)  # what production writes
    yield lines
    root.removeHandler(lines)
    root.setLevel(level)


def fill_in_secrets(client, path: str, password: str, pin: str):
    return post_form(
        client,
        path,
        {"password": password, "password_again": password, "pin": pin, "pin_again": pin},
    )


def path_in(message, pattern: str) -> str:
    match = re.search(pattern, text_of(message))
    assert match, text_of(message)
    return match.group(0)


def test_a_day_of_work_leaves_no_person_secret_or_token_in_the_logs(
    app, family, mail_outbox, log_lines
):
    slug = family.slug
    manager = signed_in(app, family, "manager")
    tokens: list[str] = []

    refused = client_for(app, slug)
    token = csrf_token(refused)
    refused.post(
        "/login",
        data={
            "email": family.email("parent-a"),
            "password": WRONG_PASSWORD,
            "pin": WRONG_PIN,
            "csrf_token": token,
        },
    )

    invited = post_form(
        manager,
        "/invitations",
        {"full_name": INVITEE_NAME, "email": INVITEE_EMAIL, "role": "parent"},
    )
    assert invited.status_code == 303
    activation = path_in(mail_outbox.to(INVITEE_EMAIL)[0], r"/activate/[\w-]+")
    tokens.append(activation.rsplit("/", 1)[1])
    invitee = client_for(app, slug)
    assert fill_in_secrets(invitee, activation, NEW_PASSWORD, NEW_PIN).status_code == 303

    forgetful = client_for(app, slug)
    forgetful.post(
        "/password/forgot",
        data={"email": family.email("staff"), "csrf_token": csrf_token(forgetful)},
    )
    reset = path_in(mail_outbox.to(family.email("staff"))[0], r"/password/reset/[\w-]+")
    tokens.append(reset.rsplit("/", 1)[1])
    assert fill_in_secrets(forgetful, reset, RESET_PASSWORD, RESET_PIN).status_code == 303

    staff = client_for(app, slug)
    token = csrf_token(staff)
    staff.post(
        "/login",
        data={
            "email": family.email("staff"),
            "password": RESET_PASSWORD,
            "pin": RESET_PIN,
            "csrf_token": token,
        },
    )
    draft = observe(app, family, [family.child_b_id], "Barty mixes paint.", publish=False)
    uploaded = post_form(
        staff,
        f"/journal/observations/{draft}/photos",
        {"photo": upload(photo_bytes(), PHOTO_NAME), "caption": "Bartholomew painting"},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code in (200, 303)
    manager.get(f"/people/?search={QUERY_SECRET}")
    manager.get(f"/no-such-page?{QUERY_SECRET}=1")

    written = log_lines.everything()
    assert written, "nothing was logged"
    people = [
        *(family.email(who) for who in ("manager", "staff", "parent-a", "parent-b")),
        INVITEE_EMAIL,
        "Priya",
        "O'Neill",
        "Sam Staff",
        "Pat Okafor",
        "Robin Quince",
        "Bartholomew",
        "Barty",
    ]
    secrets = [PASSWORD, PIN, NEW_PASSWORD, NEW_PIN, RESET_PASSWORD, RESET_PIN, WRONG_PASSWORD]
    secrets += [WRONG_PIN, *tokens, QUERY_SECRET, PHOTO_NAME]
    for needle in people + secrets:
        assert needle.lower() not in written.lower(), f"{needle!r} was logged"

    requests = [json.loads(line) for line in log_lines.json]
    requests = [entry for entry in requests if entry["message"] == "request"]
    by_route = {entry["route"]: entry for entry in requests}
    activated = by_route["/activate/<token>"]
    assert activated["setting"] == slug and activated["status"] in (200, 303)
    assert isinstance(activated["duration_ms"], float) and len(activated["request_id"]) >= 8
    assert (
        by_route["/journal/observations/<id:observation_id>/photos"]["user_id"] == family.staff_id
    )
    assert by_route["(no route)"]["status"] == 404


def test_each_answer_carries_its_request_id_and_caddys_is_kept(app, family, log_lines):
    client = client_for(app, family.slug)
    given = client.get("/login", headers={"X-Request-Id": "caddy-0123456789abcdef"})
    assert given.headers["X-Request-Id"] == "caddy-0123456789abcdef"
    made = client.get("/login", headers={"X-Request-Id": "not ok <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    lines = [json.loads(line) for line in log_lines.json]
    assert any(line.get("request_id") == "caddy-0123456789abcdef" for line in lines)


def test_an_email_address_in_a_message_or_traceback_is_replaced(log_lines):
    log = logging.getLogger("lj.test")
    try:
        raise ValueError("duplicate key (email)=(someone@example.org)")
    except ValueError:
        log.exception("could not save for other.person@example.net")
    written = log_lines.everything()
    assert "example.org" not in written and "example.net" not in written
    assert "[email]" in json.loads(log_lines.json[-1])["exception"]


def test_a_line_logged_while_the_session_opens_is_written(app, family, log_lines, monkeypatch):
    """A Redis outage met by ``open_session`` (a cookie sends it to Redis before anything
    else) is logged from there, before the request has a session: the line must still be
    written, in our format, not lost to a logging error."""
    interface = app.session_interface
    opening = interface.open_session

    def logging_while_opening(*arguments):
        logging.getLogger("app.outages").error("Redis is unavailable: (as during an outage)")
        return opening(*arguments)

    monkeypatch.setattr(interface, "open_session", logging_while_opening)
    assert client_for(app, family.slug).get("/login").status_code == 200
    started = [json.loads(line) for line in log_lines.json if "Redis is unavailable" in line]
    assert len(started) == 1 and started[0]["user_id"] is None
