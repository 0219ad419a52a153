"""Leaving nothing behind on a shared or public computer.

A person who ticks "this is a shared or public computer" when signing in gets a session
with a short idle timeout (``SHARED_SESSION_IDLE_TIMEOUT``, held by the session interface),
pages the browser must not keep (``Cache-Control: no-store``, photos and downloads
included), and, when the session ends by signing out, by timing out or from another
device, ``Clear-Site-Data`` so the browser drops its cache, cookies and storage for us.

A session that timed out is gone from Redis by the time the browser comes back, so a
small marker cookie (no value of its own, gone when the browser closes) remembers that
this browser's session was a shared computer's.
"""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request, session
from werkzeug.wrappers import Response

from app.auth.sessions import SHARED_COMPUTER_KEY, RedisSessionInterface

CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


def _sessions() -> RedisSessionInterface:
    return current_app.session_interface  # type: ignore[return-value]


def _marker_cookie() -> str:
    return f"{_sessions().cookie_name}_shared"


def idle_timeouts() -> dict[str, int]:
    """For pages: this session's idle timeout (the warning counts down from it) and a
    shared computer's (the sign-in page names it)."""
    if not has_request_context():
        return {}  # an email rendered by a job
    sessions = _sessions()
    return {
        "session_idle_seconds": sessions.idle_timeout(dict(session)),
        "shared_idle_seconds": sessions.shared_idle,
    }


def is_shared_computer_session() -> bool:
    return bool(session.get(SHARED_COMPUTER_KEY))


def _leave_nothing_behind(response: Response) -> Response:
    marker = _marker_cookie()
    secure = current_app.config["LJ"].SECURE_COOKIES
    if is_shared_computer_session():
        response.headers["Cache-Control"] = "no-store"
        if marker not in request.cookies:
            response.set_cookie(marker, "1", httponly=True, secure=secure, samesite="Lax", path="/")
    elif marker in request.cookies:
        response.delete_cookie(marker, path="/", secure=secure)
        if "_user_id" not in session:
            # The shared computer's session is over (signed out, timed out, ended elsewhere).
            # Not when someone has just signed in afresh here: that would drop their cookie.
            response.headers["Cache-Control"] = "no-store"
            response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def install_shared_computer_protection(app: Flask) -> None:
    app.after_request(_leave_nothing_behind)
    app.context_processor(idle_timeouts)
