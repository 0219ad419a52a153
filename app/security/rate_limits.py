"""Rate limits, checked only on the views that declare them.

Our limits are all ``@limiter.limit`` decorators on views (sign-in, second factor,
password reset); the decorator checks them when its view runs. Flask-Limiter also
checks every request before any view for app-wide and default limits, of which we
have none: on every other page that check found nothing, for about 270 Python calls
a request (``bench/page_variants.py``). So it is taken out again; a limit that must
hold for every route would go back as a default limit together with that check.

Its two other steps, after and at the end of every request (writing the limit
headers and any deduction that waits for the response, then clearing the request's
limit state), have something to do only where a limit was checked: they run only
when the request has the limit state a check leaves (about 45 calls a request
saved on every other page).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.globals import request_ctx

from app.extensions import limiter

# Where Flask-Limiter keeps a request's limit state (``Limiter.context``): on the
# request context, made by the first check of a limit in the request.
_LIMIT_STATE = "_limiter_request_context"


def install_rate_limits(app: Flask) -> None:
    # Flask-Limiter merges an app's storage options into those it already holds: start
    # from none, so an app made after another in one process (a Sentinel's options, then
    # a plain Redis's) is given only its own.
    limiter._storage_options = {}
    limiter.init_app(app)
    manager = limiter.limit_manager
    assert not manager.default_limits and not manager.application_limits, (
        "app-wide limits need Flask-Limiter's check of every request"
    )
    checks = app.before_request_funcs.get(None, [])
    if limiter._check_request_limit in checks:  # not there when RATELIMIT_ENABLED is off
        checks.remove(limiter._check_request_limit)
        _only_after_a_check(app.after_request_funcs[None], _inject_headers_step(app))
        _only_after_a_check(app.teardown_request_funcs[None], limiter._Limiter__release_context)


def _inject_headers_step(app: Flask) -> Callable[..., Any]:
    """The after-request step ``init_app`` registered (a ``partial`` of a private method)."""
    for step in app.after_request_funcs[None]:
        if getattr(step, "args", None) == (limiter,):
            return step
    raise LookupError("Flask-Limiter's after-request step was not found")


def _only_after_a_check(steps: list[Callable[..., Any]], step: Callable[..., Any]) -> None:
    """Replace ``step`` in ``steps`` by one that calls it only in a request that checked
    a limit (the step's argument, a response or an error, is passed through otherwise)."""

    def if_a_limit_was_checked(response_or_error: Any) -> Any:
        if hasattr(request_ctx, _LIMIT_STATE):
            return step(response_or_error)
        return response_or_error

    if_a_limit_was_checked.__qualname__ = f"only_after_a_check({_step_name(step)})"
    steps[steps.index(step)] = if_a_limit_was_checked


def _step_name(step: Callable[..., Any]) -> str:
    function = getattr(step, "func", step)
    return getattr(function, "__qualname__", repr(function))
