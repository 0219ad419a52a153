"""The CSRF token pages put in their forms: signed once per session, not once per page.

Flask-WTF keeps a random token in the session and hands pages that token signed with
the time (itsdangerous), afresh on each request that shows a form, and every signed-in
page has two (the header's sign-out and stay-signed-in forms): about a twentieth of a
child's journal page's CPU. Our tokens have no time limit (``WTF_CSRF_TIME_LIMIT`` is None,
``app.config``): Flask-WTF's validation checks that a token is signed with our key and
signs this session's token, never its time. So the session's first signed token is
exactly as good as a fresh one, and it is kept per process under the secret key and the
session's token. A new session (every sign-in, every sign-out) has a new token, so a new
key, and no session's token is another's. Validation is Flask-WTF's own, unchanged.
"""

from __future__ import annotations

from flask import Flask, current_app, session
from flask_wtf.csrf import generate_csrf

from app.kept import Kept

# A few sessions per worker at a time are in use; a signed token is ~90 bytes.
_SIGNED_TOKENS: Kept[str] = Kept(4096)


def csrf_token() -> str:
    """This session's signed CSRF token, for a page's form (templates: ``csrf_token()``)."""
    config = current_app.config
    raw = session.get(config["WTF_CSRF_FIELD_NAME"])
    if raw is None or config["WTF_CSRF_TIME_LIMIT"] is not None:
        # The session's first token (Flask-WTF makes and stores it), or tokens that expire:
        # only a fresh one will do.
        return generate_csrf()
    return _SIGNED_TOKENS.get((current_app.secret_key, raw), generate_csrf)


def install_kept_csrf_tokens(app: Flask) -> None:
    """Templates' ``csrf_token()`` is ``csrf_token`` above (after ``csrf.init_app``, whose
    global and context processor it replaces)."""
    app.add_template_global(csrf_token, "csrf_token")
    app.context_processor(lambda: {"csrf_token": csrf_token})
