"""Rate limits, checked only on the views that declare them.

Our limits are all ``@limiter.limit`` decorators on views (sign-in, second factor,
password reset); the decorator checks them when its view runs. Flask-Limiter also
checks every request before any view for app-wide and default limits, of which we
have none: on every other page that check found nothing, for about 270 Python calls
a request (``bench/page_variants.py``). So it is taken out again; a limit that must
hold for every route would go back as a default limit together with that check.
"""

from __future__ import annotations

from flask import Flask

from app.extensions import limiter


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
