"""Forms of the sign-in and account pages (CSRF-protected by Flask-WTF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
)
from wtforms.fields import Field
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from app.auth.models import Role
from app.form_checks import at_most, required_text
from app.validation import InvalidInput, clean_email


def _valid_email(form: FlaskForm, field: Field) -> None:
    try:
        field.data = clean_email(field.data or "")
    except InvalidInput as error:
        raise ValidationError(str(error)) from error


def _without_blanks_around(value: str | None) -> str | None:
    """A PIN is its digits: the space a phone's keyboard or a paste adds around them is not."""
    return value.strip() if isinstance(value, str) else value


EMAIL_CHECKS = [*required_text("Email", 254), _valid_email]
# What each field is, for browsers and password managers. A PIN is not a password: a
# manager offered it as one would save it in the password's place, so it asks for nothing.
OWN_EMAIL = {"autocomplete": "username"}
CURRENT_PASSWORD = {"autocomplete": "current-password"}
NEW_PASSWORD = {"autocomplete": "new-password"}
PIN_FIELD = {
    "render_kw": {"inputmode": "numeric", "autocomplete": "off", "maxlength": 6},
    "filters": [_without_blanks_around],
}


class SignInForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=required_text("Email", 254),
        render_kw=OWN_EMAIL,
    )
    password = PasswordField(
        "Password",
        validators=required_text("Password", 128),
        render_kw=CURRENT_PASSWORD,
    )
    pin = PasswordField("PIN", validators=required_text("PIN", 6), **PIN_FIELD)
    shared_computer = BooleanField("This is a shared or public computer")


class ChooseSecretsForm(FlaskForm):
    """Activation and reset: a new password and PIN, each typed twice."""

    password = PasswordField(
        "New password",
        validators=required_text("New password", 128),
        render_kw={**NEW_PASSWORD, "aria-describedby": "password-hint"},
    )
    password_again = PasswordField(
        "New password again",
        validators=required_text("New password again", 128),
        render_kw=NEW_PASSWORD,
    )
    pin = PasswordField("New PIN (6 digits)", validators=required_text("New PIN", 6), **PIN_FIELD)
    pin_again = PasswordField(
        "New PIN again", validators=required_text("New PIN again", 6), **PIN_FIELD
    )

    def mismatches(self) -> dict[str, str]:
        found = {}
        if self.password.data != self.password_again.data:
            found["password_again"] = "The two passwords are not the same."  # noqa: S105
        if self.pin.data != self.pin_again.data:
            found["pin_again"] = "The two PINs are not the same."
        return found


class ForgotForm(FlaskForm):
    email = EmailField("Email", validators=EMAIL_CHECKS, render_kw=OWN_EMAIL)


class ChangeSecretsForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=required_text("Current password", 128),
        render_kw=CURRENT_PASSWORD,
    )
    current_pin = PasswordField(
        "Current PIN", validators=required_text("Current PIN", 6), **PIN_FIELD
    )
    new_password = PasswordField(
        "New password (leave blank to keep it)",
        validators=[at_most("New password", 128)],
        render_kw=NEW_PASSWORD,
    )
    new_pin = PasswordField(
        "New PIN (leave blank to keep it)", validators=[at_most("New PIN", 6)], **PIN_FIELD
    )


class ChangeEmailForm(FlaskForm):
    new_email = EmailField(
        "New email", validators=EMAIL_CHECKS, render_kw={"autocomplete": "email"}
    )
    current_password = PasswordField(
        "Current password",
        validators=required_text("Current password", 128),
        render_kw=CURRENT_PASSWORD,
    )


class InviteForm(FlaskForm):
    full_name = StringField("Full name", validators=required_text("Full name", 120))
    email = EmailField("Email", validators=EMAIL_CHECKS)
    # Nothing is chosen until the manager chooses: a slip must not make someone a manager.
    role = SelectField(
        "Role",
        choices=[
            SelectChoice("", "Choose a role"),
            *(SelectChoice(r.value, r.label) for r in (Role.PARENT, Role.STAFF)),
            SelectChoice(Role.MANAGER.value, "Manager (runs the setting)"),
        ],
        default="",
        validators=[DataRequired(message="Choose a role.")],
    )


class CurrentPasswordForm(FlaskForm):
    """A change that could take away the account's second factor asks for the password."""

    current_password = PasswordField(
        "Your current password",
        validators=required_text("Current password", 128),
        render_kw=CURRENT_PASSWORD,
    )


class CorrectEmailForm(FlaskForm):
    email = EmailField("Correct email", validators=EMAIL_CHECKS)


class EmptyForm(FlaskForm):
    """A form with only its CSRF token: sign out, re-send, deactivate, stay signed in."""


class SecondFactorCodeForm(FlaskForm):
    """A code from the authenticator app, or one of the recovery codes."""

    code = StringField(
        "Code",
        validators=required_text("Code", 20),
        render_kw={
            "autocomplete": "one-time-code",
            "autocapitalize": "none",
            "spellcheck": "false",
        },
    )


class PasskeyNameForm(FlaskForm):
    """A new passkey: its name, and the browser's signed answer (``static/passkeys.js``)."""

    name = StringField(
        "Name of this passkey",
        validators=required_text("Name of this passkey", 60),
        render_kw={"autocomplete": "off"},
    )
    credential = HiddenField(validators=[DataRequired(), Length(max=20_000)])


class PasskeyRenameForm(FlaskForm):
    name = StringField("New name", validators=required_text("New name", 60))


class PasskeySignInForm(FlaskForm):
    """The browser's signed answer to a passkey sign-in (``static/passkeys.js``)."""

    credential = HiddenField(validators=[DataRequired(), Length(max=20_000)])


class FactorPolicyForm(FlaskForm):
    required_for = SelectField(
        "Who must use a second factor",
        choices=[
            SelectChoice("nobody", "Nobody (each person may still choose to)"),
            SelectChoice("managers", "Managers"),
            SelectChoice("staff", "Managers and staff"),
            SelectChoice("everyone", "Everyone, parents and carers too"),
        ],
    )
    grace_days = IntegerField(
        "Days people have to set one up",
        validators=[InputRequired()],
        render_kw={"min": 0, "max": 90, "step": 1},
    )
