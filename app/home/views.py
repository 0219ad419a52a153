"""The front door: the landing page on the bare domain, the setting's home on its subdomain."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from app.auth.access import current_user
from app.auth.models import Role
from app.people import operations as people

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
def index() -> str:
    """Landing page on the bare domain; on a setting, a dashboard for whoever is signed in."""
    if g.setting is None:
        return render_template("home/landing.html")
    if not current_user.is_authenticated:
        return render_template("home/setting_home.html")
    if current_user.role is Role.MANAGER:
        return render_template("home/manager.html", attention=people.needs_attention())
    if current_user.role is Role.STAFF:
        return render_template("home/staff.html", children=people.active_children())
    return render_template("home/parent.html", children=people.children_of(current_user))
