"""The front door: the landing page on the bare domain, the setting's home on its subdomain."""

from __future__ import annotations

from flask import Blueprint, g, render_template, session
from werkzeug.wrappers import Response

from app.access.policy import Action, can
from app.auth.access import current_user, login_manager
from app.auth.second_factor import factor_policy
from app.home import dashboards
from app.people import children, departures, needs_attention

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
def index() -> str | Response:
    """Landing page on the bare domain; on a setting, a dashboard for whoever is signed in."""
    if g.setting is None:
        return render_template("home/landing.html")
    if not current_user.is_authenticated:
        if getattr(session, "ended_by_timeout", False):
            # A dashboard left open, then tapped: the sign-in page says why the session
            # ended (inactivity, or access ended), as every page needing sign-in does.
            return login_manager.unauthorized()
        return render_template("home/setting_home.html")
    if can(current_user, Action.MANAGE_SETTING):
        steps = dashboards.getting_started()
        return render_template(
            "home/manager.html",
            attention=needs_attention.needs_attention(factor_policy()),
            steps=None if all(step.done for step in steps) else steps,
            waiting=dashboards.waiting_for_review(current_user),
        )
    if can(current_user, Action.WRITE_OBSERVATIONS):
        return render_template(
            "home/staff.html",
            children=children.active_children(),
            waiting=dashboards.waiting_for_review(current_user),
        )
    return render_template(
        "home/parent.html",
        news=dashboards.new_since_last_visit(current_user),
        access_ends_on=departures.access_ends_on(current_user),
    )
