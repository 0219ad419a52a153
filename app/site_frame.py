"""What ``templates/base.html`` shows around a signed-in page's own content, as one key.

A page that keeps its whole HTML (the child's journal page, ``app.journal.views``) keeps it
under its own content's key and this one: everything the frame reads besides the page's
blocks. The header's setting name and logo, the nav (the role, the section of the path,
the path the application is served under), its four links, the two forms' CSRF token (the
session's own, signed with the secret key), the idle warning (this session's idle timeout,
the path to come back to). Any change to any of it is another key, so a kept page never
shows one session's token, timeout or setting in another's page.

There is no key (the page is rendered) when rendering would change the session or needs a
fresh token: messages waiting to be flashed (showing them takes them out), a session with
no CSRF token yet (the first form makes one), tokens with a time limit (``app.security.
csrf_tokens``). A change to ``base.html`` that reads anything else must add it
here (``tests/test_site_frame.py``: another session, a message to flash, a renamed setting).
"""

from __future__ import annotations

from collections.abc import Hashable

from flask import current_app, g, request, session
from flask_login import current_user

from app.auth.shared_computer import idle_timeouts

_FLASHES = "_flashes"  # where Flask keeps messages to flash, in the session


def site_frame_key() -> Hashable | None:
    """Everything ``base.html`` reads for this signed-in request, or None: render it."""
    config = current_app.config
    raw_token = session.get(config["WTF_CSRF_FIELD_NAME"])
    if raw_token is None or config["WTF_CSRF_TIME_LIMIT"] is not None or session.get(_FLASHES):
        return None  # no token yet, or tokens that expire: pages need a fresh one
    viewer = current_user._get_current_object()  # once, not through the proxy each time
    return (
        request.host,
        request.script_root,
        request.full_path,
        g.get("setting"),
        viewer.get_id(),
        viewer.role,
        current_app.secret_key,
        raw_token,
        tuple(sorted(idle_timeouts().items())),
    )
