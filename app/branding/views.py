"""Managers set the setting's name and logo; everyone sees them in the header."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from werkzeug.wrappers import Response

from app.access.policy import Action
from app.auth.access import require
from app.branding import operations
from app.branding.forms import BrandingForm
from app.journal import storage
from app.journal.media import MediaRejected
from app.validation import InvalidInput
from tenants.binding import current_setting

bp = Blueprint("branding", __name__, url_prefix="/settings/branding", template_folder="templates")


@bp.get("/")
@require(Action.MANAGE_SETTING)
def edit() -> str:
    setting = current_setting()
    form = BrandingForm(name=setting.name, time_zone=setting.time_zone)
    return render_template("branding/edit.html", form=form)


@bp.post("/")
@require(Action.MANAGE_SETTING)
def save() -> Response | tuple[str, int]:
    # A form posted without a time zone keeps the current one.
    form = BrandingForm(time_zone=current_setting().time_zone)
    errors: dict[str, list[str]] = {}
    if form.validate():
        try:
            operations.rename_setting(form.name.data or "")
            operations.set_time_zone(form.time_zone.data or "")
            upload = form.logo.data
            if form.remove_logo.data:
                operations.remove_logo()
            elif upload and upload.filename:
                operations.replace_logo(upload.read())
        except InvalidInput as error:
            errors = {"name": [str(error)]}
        except MediaRejected as rejected:
            return _page(form, {"logo": [rejected.message]}), rejected.status
        else:
            flash("Saved. Families see the name, logo and times on every page.", "success")
            return redirect(url_for("branding.edit"), code=303)
    return _page(form, errors), 422


def _page(form: BrandingForm, errors: dict[str, list[str]]) -> str:
    return render_template("branding/edit.html", form=form, errors=errors)


@bp.get("/logo")
def logo() -> Response:
    """The logo of this setting (only), for the header of every page, signed in or not."""
    name = current_setting().logo_file
    if not name:
        abort(404)
    try:
        path = storage.path_of(name)
    except storage.MediaMissing:
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
