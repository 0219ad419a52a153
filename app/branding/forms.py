"""The branding form: name and an optional logo."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField

from app.form_checks import required_text


class BrandingForm(FlaskForm):
    name = StringField("Setting name", validators=required_text("Setting name", 120))
    logo = FileField(
        "New logo (JPEG, PNG or WebP, up to 5 MB)",
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )
    remove_logo = BooleanField("Remove the current logo")
    time_zone = SelectField(
        "Time zone (pages show every time in it)",
        choices=sorted(available_timezones()),
        validate_choice=True,
    )
