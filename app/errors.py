"""Error pages: every error a person can cause gets a clear page and a 4xx."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError as DBAPIOperationalError
from werkzeug.exceptions import HTTPException

from tenants.routing import bare_domain_url

log = logging.getLogger(__name__)

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("Something was wrong with that request", "Please go back, check the form and try again."),
    403: ("You can't open this page", "Your account does not give access to this page."),
    404: (
        "Page not found",
        "There is nothing at this address. Check the link, or start again from the home page.",
    ),
    405: ("That didn't work", "This page can't be used that way. Please go back and try again."),
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


def render_error(code: int, message: str | None = None) -> tuple[str, int]:
    title, default_message = MESSAGES.get(code, DEFAULT_ERROR)
    # On a setting's own host "/" is its home page; elsewhere (an unknown or suspended
    # subdomain) "/" would lead back here, so the link goes to the bare domain.
    home = "/" if g.get("setting") else bare_domain_url()
    page = render_template(
        "errors/error.html", title=title, message=message or default_message, home=home
    )
    return page, code


def _http_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    # Only messages we wrote ourselves (abort(4xx, description=...)) are shown.
    custom = error.description if error.description != type(error).description else None
    return render_error(code, custom)


def _service_unavailable(error: Exception) -> tuple[str, int]:
    log.warning("a backing service is unavailable: %s", error)
    return render_error(503)


def register_error_pages(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(RedisError, _service_unavailable)
    # The database unreachable (not a query of ours that failed): also a 503.
    app.register_error_handler(DBAPIOperationalError, _service_unavailable)
