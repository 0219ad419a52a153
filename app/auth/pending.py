"""Steps a person owes after signing in, in order, and the one gate that holds them to it.

A step either *blocks* (accept the setting's usage policy: at the first sign-in and after
each new version): while it is due, ``hold_for_pending_steps``, which runs before every
view, sends every page but the step's own (and signing out) to it, then back where the
person was going; no view checks for itself, so none can forget. Or it is *asked at
sign-in* (is your email address still right?): signing in leads to it first, but the
person may go on without answering, and is asked again next time.

Adding a step is one line in ``STEPS_AFTER_SIGN_IN``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, redirect, request, url_for
from werkzeug.wrappers import Response

from app.auth.access import current_user
from app.auth.models import User
from app.responsible_use import operations as responsible_use
from tenants.routing import ANY_HOST_ENDPOINTS


@dataclass(frozen=True)
class PendingStep:
    """A step due after sign-in: ``endpoint`` is its page (GET shows it, POST takes it)."""

    endpoint: str
    is_due: Callable[[User], bool]
    blocks: bool = True


STEPS_AFTER_SIGN_IN: tuple[PendingStep, ...] = (
    PendingStep("responsible_use.usage_policy", responsible_use.policy_not_accepted),
    PendingStep("responsible_use.email_check", responsible_use.email_check_due, blocks=False),
)

# Reachable whatever is pending: leaving, staying signed in (and the idle warning asking
# how long is left), the files pages need, and the operator's probes (which answer outside
# every setting and never read a session).
ALWAYS_OPEN = (
    frozenset({"auth.logout", "auth.keep_alive", "auth.session_status", "static"})
    | ANY_HOST_ENDPOINTS
)


def where_after_sign_in(user: User, target: str) -> str:
    """Where signing in leads: the first step due (then ``target``), or ``target`` itself."""
    step = next((step for step in STEPS_AFTER_SIGN_IN if step.is_due(user)), None)
    return target if step is None else url_for(step.endpoint, next=target)


def hold_for_pending_steps() -> Response | None:
    """Before every view: a signed-in person with a blocking step due is sent to take it."""
    if request.endpoint in ALWAYS_OPEN or not current_user.is_authenticated:
        return None
    step = next(
        (step for step in STEPS_AFTER_SIGN_IN if step.blocks and step.is_due(current_user)),
        None,
    )
    if step is None or request.endpoint == step.endpoint:
        return None
    # Back here afterwards; where a form's POST came from is not known, so after one
    # the person goes on to the home page.
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for(step.endpoint, next=target), code=303)


def install_pending_steps(app: Flask) -> None:
    """Run the gate after routing, the session and CSRF checks, before any blueprint's hooks."""
    app.before_request(hold_for_pending_steps)
