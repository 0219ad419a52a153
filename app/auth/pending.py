"""What stands between a right password and PIN and using the site, in order, and the one
gate that holds people to it.

1. **Before the session is signed in: the second factor.** A person with a second factor
   (or one the setting's policy now requires to enrol: ``app.auth.second_factor``) is not
   signed in after email, password and PIN. Their session holds only a *pending sign-in*:
   who, which step (``verify`` a factor or ``enrol`` one), where they were going, and when
   it began. It gets a fresh session id then, and another when the sign-in completes, so
   the pending session's id never becomes a signed-in session's. It ends after
   ``SECOND_FACTOR_STEP_TTL`` seconds (by ``app.clock``), and until then reaches only its
   own step's pages, sign-in and sign-out.
2. **After signing in: steps a person owes.** A step either *blocks* (accept the setting's
   usage policy: at the first sign-in and after each new version): while it is due, every
   page but the step's own (and signing out) leads to it, then back where the person was
   going. Or it is *asked at sign-in* (is your email address still right?): signing in
   leads to it first, but the person may go on without answering, and is asked again next
   time. Adding a step is one line in ``STEPS_AFTER_SIGN_IN``.

``hold_for_pending_steps`` runs before every view: no view checks for itself, so none can
forget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, flash, redirect, request, session, url_for
from flask_login import login_user
from werkzeug.wrappers import Response

from app import clock
from app.auth import operations
from app.auth.access import current_user
from app.auth.devices import browser_of, device_record, network_of
from app.auth.models import User
from app.auth.sessions import DEVICE_KEY, PENDING_SIGN_IN, SHARED_COMPUTER_KEY
from app.extensions import db
from app.responsible_use import operations as responsible_use
from tenants.routing import ANY_HOST_ENDPOINTS

# ---------------------------------------------------------------- 1. the second factor

VERIFY = "verify"
ENROL = "enrol"

# What a pending sign-in may reach, by step (besides ALWAYS_OPEN, and signing in afresh).
SECOND_FACTOR_ENDPOINTS = {
    VERIFY: frozenset(
        {
            "factors.verify",
            "factors.verify_submit",
            "factors.passkey_sign_in_options",
            "factors.passkey_sign_in",
        }
    ),
    ENROL: frozenset(
        {
            "factors.enrol",
            "factors.totp_start",
            "factors.totp_setup",
            "factors.totp_confirm",
            "factors.passkey_register_options",
            "factors.passkey_register",
        }
    ),
}
SECOND_FACTOR_PAGES = {VERIFY: "factors.verify", ENROL: "factors.enrol"}
SIGNING_IN = frozenset({"auth.login", "auth.login_submit"})


@dataclass(frozen=True)
class PendingSignIn:
    user_id: int
    step: str
    next: str
    started: float
    shared_computer: bool = False


def begin(user: User, step: str, next_path: str, *, shared_computer: bool) -> Response:
    """Hold a person whose password and PIN were right at ``step``, under a new session id."""
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    session[PENDING_SIGN_IN] = {
        "user_id": user.id,
        "step": step,
        "next": next_path,
        "started": clock.now().timestamp(),
        "shared_computer": shared_computer,
    }
    return redirect(url_for(SECOND_FACTOR_PAGES[step]), code=303)


def current() -> PendingSignIn | None:
    """This session's pending sign-in, unless it has expired."""
    raw = session.get(PENDING_SIGN_IN)
    if not raw:
        return None
    pending = PendingSignIn(**raw)
    ttl = current_app.config["LJ"].SECOND_FACTOR_STEP_TTL
    if clock.now().timestamp() - pending.started > ttl:
        return None
    return pending


def pending_user(step: str) -> User | None:
    """The active person waiting at ``step`` in this session, or None."""
    pending = current()
    if pending is None or pending.step != step:
        return None
    user = db.session.get(User, pending.user_id)
    return user if user is not None and user.is_active else None


def abandon(message: str) -> Response:
    """End any pending sign-in and send the person to sign in, saying why; someone
    already signed in (a stale link to the step) just goes home."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"), code=303)
    session.pop(PENDING_SIGN_IN, None)
    flash(message, "error")
    return redirect(url_for("auth.login"), code=303)


def remember_this_browser(user: User) -> None:
    operations.remember_browser(
        user, str(browser_of(request.user_agent.string)), network_of(request.remote_addr)
    )


def sign_in(user: User, next_path: str, *, method: str, shared_computer: bool) -> str:
    """Every step before signing in passed: make this a signed-in session (a new id) and
    return where to go. The request commits it (the sign-in is audited, failures forgiven)."""
    operations.complete_sign_in(user, method=method)
    remember_this_browser(user)
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    login_user(user)
    session[DEVICE_KEY] = device_record(request.user_agent.string, request.remote_addr)
    if shared_computer:
        session[SHARED_COMPUTER_KEY] = True
    return where_after_sign_in(user, next_path)


def complete(user: User, *, method: str) -> str:
    """The second-factor step is done: sign the person in; returns where to go."""
    pending = current()
    return sign_in(
        user,
        pending.next if pending else url_for("home.index"),
        method=method,
        shared_computer=bool(pending and pending.shared_computer),
    )


def _hold_at_second_factor() -> Response | None:
    if request.endpoint in SIGNING_IN:
        return None
    pending = current()
    if pending is None:
        return abandon("That took too long. Please sign in again.")
    if request.endpoint in SECOND_FACTOR_ENDPOINTS[pending.step]:
        return None
    return redirect(url_for(SECOND_FACTOR_PAGES[pending.step]), code=303)


# ---------------------------------------------------------------- 2. steps after sign-in


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


def _hold_for_steps_after_sign_in() -> Response | None:
    viewer = current_user._get_current_object()  # once, not through the proxy each time
    if not viewer.is_authenticated:
        return None
    step = next(
        (step for step in STEPS_AFTER_SIGN_IN if step.blocks and step.is_due(viewer)),
        None,
    )
    if step is None or request.endpoint == step.endpoint:
        return None
    # Back here afterwards; where a form's POST came from is not known, so after one
    # the person goes on to the home page.
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for(step.endpoint, next=target), code=303)


def hold_for_pending_steps() -> Response | None:
    """Before every view: a pending sign-in reaches only its second-factor step; a
    signed-in person with a blocking step due is sent to take it."""
    if request.endpoint in ALWAYS_OPEN:
        return None
    if PENDING_SIGN_IN in session:
        return _hold_at_second_factor()
    return _hold_for_steps_after_sign_in()


def install_pending_steps(app: Flask) -> None:
    """Run the gate after routing, the session and CSRF checks, before any blueprint's hooks."""
    app.before_request(hold_for_pending_steps)
