"""Logs: one JSON object a line, one line per request, and never a person in them.

Each request gets an id (Caddy's ``X-Request-Id`` when it is well formed, else a
new one), returned in the answer's ``X-Request-Id``. Every line written while the
request runs carries that id, the setting's slug and the signed-in user's id; the
request's own line adds the route *pattern* (``/activate/<token>``, never the
path, which may carry a token, nor the query string), the method, the status
and the time taken.

Log messages are ours and name ids, never people. As a second line of defence
the formatter replaces anything shaped like an email address, in the message
and in any traceback, and SQLAlchemy is told to leave query parameters out of
its errors (``hide_parameters`` in ``app.config``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request, session

from app.config import Config

log = logging.getLogger("lj.request")

REQUEST_ID_HEADER = "X-Request-Id"
_GOOD_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
_EMAIL = re.compile(r"[^\s@<>\"'(),;:\[\]]+@[^\s@<>\"'(),;:\[\]]+\.[A-Za-z]{2,}")
_HANDLER_MARK = "_lj_handler"


def scrub(text: str) -> str:
    """``text`` with every email-shaped word replaced."""
    return _EMAIL.sub("[email]", text)


def _request_fields() -> dict[str, object]:
    """Who and where, for any line written while a request runs."""
    if not has_request_context():
        return {}
    setting = g.get("setting")
    return {
        "request_id": g.get("request_id"),
        "setting": setting.slug if setting is not None else None,
        "user_id": _signed_in_user_id(),
    }


def _signed_in_user_id() -> int | None:
    # From the session, not flask-login's current_user: logging must never load a user.
    try:
        raw = session.get("_user_id") if session is not None else None
    except AssertionError:
        # The session is still being opened: a line logged from there (Redis down,
        # the first line of an outage) must still be written.
        return None
    return int(raw) if isinstance(raw, str) and raw.isdigit() else None


# One encoder for every line: ``json.dumps(..., default=str)`` builds a new one per call.
_JSON = json.JSONEncoder(default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request fields, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            **_request_fields(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return _JSON.encode(entry)


class TextFormatter(logging.Formatter):
    """For a developer's terminal: the same fields, readable, scrubbed alike."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = {**_request_fields(), **getattr(record, "fields", {})}
        extra = " ".join(f"{key}={value}" for key, value in fields.items() if value is not None)
        return scrub(super().format(record) + (f" [{extra}]" if extra else ""))


def configure_logging(config: Config) -> None:
    """Send every log line of this process to stderr in ``LOG_FORMAT``, at INFO.

    Replaces the handler an earlier call installed, so building the app twice (tests,
    the CLI) never writes each line twice. Werkzeug's own request lines are left out:
    they carry the whole path and query string.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if config.LOG_FORMAT == "json" else TextFormatter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    _skip_unprinted_record_fields()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _skip_unprinted_record_fields() -> None:
    """Stop ``logging`` gathering, for every line, what neither formatter prints: the
    calling function and line (a walk up the stack), the thread and the process. The
    switches the logging HOWTO's "Optimization" section names; every request writes a
    line, and these were about a fifth of its cost."""
    logging._srcfile = None  # type: ignore[attr-defined]  # the documented switch
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def _start_request() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _GOOD_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def route_of_request() -> str:
    """The matched route's pattern, or a fixed word when nothing matched (a 404)."""
    rule = request.url_rule
    return rule.rule if rule is not None else "(no route)"


def _log_request(response: Response) -> Response:
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    fields = {
        "method": request.method,
        "route": route_of_request(),
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1),
    }
    log.info("request", extra={"fields": fields})
    return response


def install_request_logging(app: Flask) -> None:
    """An id for every request first, its log line last."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_log_request)
