"""Who is signed in, and which role a page needs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort, redirect, request, session, url_for
from flask_login import LoginManager, current_user
from werkzeug.wrappers import Response

from app.auth.models import Role, User
from app.auth.sessions import ACCESS_ENDED
from app.extensions import db
from tenants.binding import current_setting_or_none

P = ParamSpec("P")
R = TypeVar("R")

login_manager = LoginManager()

__all__ = ["current_user", "login_manager", "require_role", "require_sign_in"]


@login_manager.user_loader
def _load_user_of_this_setting(user_id: str) -> User | None:
    # The session is bound to this setting's schema, so the id can only name
    # one of its own people; inactive accounts are not signed in. With no setting
    # bound (a suspended or unknown one: its 404 page) there is nobody to load.
    if current_setting_or_none() is None or not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.is_active else None


@login_manager.unauthorized_handler
def _to_sign_in() -> Response:
    # Say why the session ended: access ended (deactivated), or inactivity.
    ended = getattr(session, "ended_reason", None) == ACCESS_ENDED
    timed_out = getattr(session, "ended_by_timeout", False) and not ended
    return redirect(
        url_for(
            "auth.login",
            next=request.full_path.rstrip("?"),
            timeout=1 if timed_out else None,
            ended="access" if ended else None,
        )
    )


def require_sign_in(view: Callable[P, R]) -> Callable[P, R | Response]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapper


def require_role(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Signed-out people are sent to sign in; other roles get 403."""

    def decorate(view: Callable[P, R]) -> Callable[P, R | Response]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate
