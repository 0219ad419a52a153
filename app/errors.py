"""Error pages: every error a person can cause gets a clear page and a 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from flask import Flask, abort, current_app, g, has_app_context, render_template
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError as DBAPIOperationalError
from werkzeug.exceptions import HTTPException, default_exceptions
from werkzeug.wrappers import Response

from app import outages
from app.auth.access import sign_in_again_after_session_ended
from tenants.routing import bare_domain_url

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("Something was wrong with that request", "Please go back, check the form and try again."),
    403: ("You can't open this page", "Your account does not give access to this page."),
    404: (
        "Page not found",
        "There is nothing at this address. Check the link, or start again from the home page.",
    ),
    405: ("That didn't work", "This page can't be used that way. Please go back and try again."),
    410: ("This is no longer here", "What was at this address has gone."),
    413: ("That file is too large", "Please choose a smaller file and try again."),
    429: ("Too many attempts", "Please wait a few minutes before trying again."),
    500: ("Sorry, something went wrong", "The problem has been logged. Please try again."),
    503: (
        "Learning Journals is briefly unavailable",
        "Part of the service is not answering. "
        "Please try again in a minute; nothing you saved has been lost.",
    ),
}
DEFAULT_ERROR = ("That didn't work", "Please go back and try again.")
FORM_EXPIRED = (
    "This page had expired (or your browser did not send its cookie), so nothing was done. "
    "Please open the page again and try once more."
)


def render_error(
    code: int, message: str | None = None, way_on: tuple[str, str] | None = None
) -> tuple[str, int]:
    """The error page; it never looks anything up in PostgreSQL or Redis.

    A 5xx may mean one of them is down, and ``render_template``'s context
    processors would load the signed-in user (Flask-Login queries the
    database) and read the session. So a 5xx page, or any page whose request
    has not loaded its user yet, is rendered bare: only ``g`` (the setting,
    from the in-memory registry snapshot), no signed-in parts. A 4xx for a user
    the request already loaded keeps the usual header (navigation, sign out).
    ``way_on``: (address, words) of a link to where the person can go on from here.
    """
    title, default_message = MESSAGES.get(code, DEFAULT_ERROR)
    context = {
        "title": title,
        "message": message or default_message,
        # On a setting's own host "/" is its home page; elsewhere (an unknown or suspended
        # subdomain) "/" would lead back here, so the link goes to the bare domain.
        "home": "/" if g.get("setting") else bare_domain_url(),
        "way_on": way_on,
    }
    if code < 500 and "_login_user" in g:  # Flask-Login's per-request cache of the user
        return render_template("errors/error.html", bare_page=False, **context), code
    template = current_app.jinja_env.get_template("errors/error.html")
    return template.render(bare_page=True, g=g, **context), code


def refuse(code: int, message: str, *, way_on: tuple[str, str]) -> NoReturn:
    """Answer ``code`` on the error page, saying ``message`` and linking ``way_on``
    ((address, words)): what happened and where to go on from it, not a bare refusal."""
    error = default_exceptions[code](description=message)
    error.way_on = way_on  # type: ignore[attr-defined]  # read by _http_error
    raise error


def conflict(refusal: Exception) -> NoReturn:
    """Answer 409 with the refusal's reason in words (so the request's writes roll back)."""
    abort(409, description=str(refusal))


@contextmanager
def conflict_if_refused(*refusals: type[Exception]) -> Iterator[None]:
    """An operation refused in the block (one of ``refusals``) answers 409 with its reason:
    a conflict of state, such as a child who has already left, said in words."""
    try:
        yield
    except refusals as refused:
        conflict(refused)


def _http_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    # Only messages we wrote ourselves (abort(4xx, description=...)) are shown: not the
    # rate limiter's notation of the limit it applied ("10 per 1 minute").
    ours = error.description != type(error).description and not isinstance(error, RateLimitExceeded)
    custom = error.description if ours else None
    return render_error(code, custom, getattr(error, "way_on", None))


def _form_refused(error: CSRFError) -> tuple[str, int] | Response:
    """Flask-WTF's refusal of a form without its session's token, most often a page left
    open until the session ended (or a browser refusing cookies), in words a person
    reads; a refusal of our own (a subclass: sent from another site) says its own."""
    if type(error) is not CSRFError:
        return render_error(400, error.description)
    if (to_sign_in := sign_in_again_after_session_ended()) is not None:
        return to_sign_in  # nothing was done; the sign-in page says the session ended
    return render_error(400, FORM_EXPIRED)


def _redis_unavailable(error: RedisError | BrokerUnavailable) -> tuple[str, int]:
    outages.redis().failed(error)
    return render_error(503)


def _database_unavailable(error: DBAPIOperationalError) -> tuple[str, int]:
    outages.postgresql().failed(error)
    return render_error(503)


@event.listens_for(Engine, "connect")
def _database_answered(*_: object) -> None:
    """A new connection to PostgreSQL: if it was down, it is back."""
    if has_app_context():
        outages.postgresql().answered()


def register_error_pages(app: Flask) -> None:
    outages.install_outage_logs(app)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _form_refused)
    app.register_error_handler(RedisError, _redis_unavailable)
    # Sending a task while the broker (the same Redis) is down: kombu wraps Redis's error.
    app.register_error_handler(BrokerUnavailable, _redis_unavailable)
    # The database unreachable (not a query of ours that failed): also a 503.
    app.register_error_handler(DBAPIOperationalError, _database_unavailable)
