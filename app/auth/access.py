"""Who is signed in, and what a page needs them to be allowed to do."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort, redirect, request, session, url_for
from flask_login import LoginManager, current_user
from werkzeug.wrappers import Response

from app.access.policy import Action, can
from app.auth.models import User
from app.auth.sessions import ACCESS_ENDED, SIGNED_IN_TOO_LONG
from app.auth.viewer import Viewer, active_viewer
from app.extensions import db
from tenants.binding import current_setting_or_none

P = ParamSpec("P")
R = TypeVar("R")

login_manager = LoginManager()

__all__ = [
    "current_user",
    "login_manager",
    "require",
    "require_sign_in",
    "signed_in_account",
    "signed_in_can",
]


@login_manager.user_loader
def _load_user_of_this_setting(user_id: str) -> Viewer | None:
    # The session is bound to this setting's schema, so the id can only name
    # one of its own people; inactive accounts are not signed in. With no setting
    # bound (a suspended or unknown one: its 404 page) there is nobody to load.
    if current_setting_or_none() is None or not user_id.isdigit():
        return None
    return active_viewer(int(user_id))


def signed_in_account() -> User:
    """The signed-in person's ``User``, for a page that changes their account or hands them
    to an operation (``current_user`` is a ``Viewer``: what pages read). Only for a request
    whose view requires a signed-in person."""
    viewer = current_user._get_current_object()
    if isinstance(viewer, User):  # signed in by this very request (flask-login's login_user)
        return viewer
    user = db.session.get(User, viewer.id)
    if user is None or not user.is_active:  # deactivated since the loader read it
        abort(login_manager.unauthorized())
    return user


# Forms people send before signing in: a page of theirs left open past the idle timeout
# is refused as an expired form (``app.errors``), not sent to sign in.
FORMS_BEFORE_SIGN_IN = frozenset(
    {"auth.login_submit", "auth.forgot_submit", "auth.activate", "auth.reset", "auth.confirm_email"}
)


def sign_in_again_after_session_ended() -> Response | None:
    """For a form refused for its token: when the session it belonged to has ended (idle
    timeout, or access ended) and the form was for signed-in people, the sign-in page saying
    why, as any request of that session gets; else None."""
    if not getattr(session, "ended_by_timeout", False):
        return None
    if request.endpoint in FORMS_BEFORE_SIGN_IN:
        return None
    return _to_sign_in()


# Why a session ended, as the sign-in page's ``ended`` argument names it.
_ENDED_REASONS = {ACCESS_ENDED: "access", SIGNED_IN_TOO_LONG: "limit"}


@login_manager.unauthorized_handler
def _to_sign_in() -> Response:
    # Say why the session ended: access ended (deactivated), the longest a sign-in lasts,
    # or inactivity.
    ended = _ENDED_REASONS.get(getattr(session, "ended_reason", None) or "")
    timed_out = getattr(session, "ended_by_timeout", False) and ended is None
    return redirect(
        url_for(
            "auth.login",
            # Back to the page being read; a form's address answers only its POST.
            next=request.full_path.rstrip("?") if request.method == "GET" else None,
            timeout=1 if timed_out else None,
            ended=ended,
        )
    )


def require_sign_in(view: Callable[P, R]) -> Callable[P, R | Response]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapper


def require(action: Action) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """The page is for people allowed ``action`` (``app.access.policy``): signed-out people
    are sent to sign in, others get 403. What the page then shows of one object is asked
    of the policy again, with that object."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            viewer = current_user._get_current_object()  # once, not through the proxy each time
            if not viewer.is_authenticated:
                return login_manager.unauthorized()
            if not can(viewer, action):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def signed_in_can(action: str, target: object = None) -> bool:
    """``can()`` in templates: may the signed-in person do ``action`` (to ``target``)?"""
    return can(current_user, action, target)
