"""The front door: the landing page on the bare domain, the setting's home on its subdomain."""

from __future__ import annotations

from flask import Blueprint, g, render_template

bp = Blueprint("home", __name__, template_folder="templates")


@bp.get("/")
def index() -> str:
    if g.setting is None:
        return render_template("home/landing.html")
    return render_template("home/setting_home.html")
