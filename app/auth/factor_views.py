"""Second-factor pages: the step at sign-in, enrolment, the person's own factors, the
manager's reset and the setting's policy. Views parse and call ``second_factor``; the
request commits (``app.request_transaction``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from app.access.policy import Action
from app.auth import operations, passkeys, pending
from app.auth import second_factor as factors
from app.auth.access import current_user, login_manager, require, require_sign_in, signed_in_account
from app.auth.factors import confirmed_totp_of, passkeys_of
from app.auth.forms import (
    CurrentPasswordForm,
    EmptyForm,
    FactorPolicyForm,
    PasskeyNameForm,
    PasskeyRenameForm,
    PasskeySignInForm,
    SecondFactorCodeForm,
)
from app.auth.models import User
from app.auth.operations import CurrentSecretsRefused
from app.auth.second_factor import SecondFactorRefused
from app.auth.views import after_wrong_current_secrets
from app.errors import conflict_if_refused
from app.extensions import db, limiter
from app.validation import InvalidInput
from tenants.binding import current_setting

bp = Blueprint("factors", __name__, template_folder="templates")

INVALID = 422
P = ParamSpec("P")
R = TypeVar("R")


def _pending_account_key() -> str:
    waiting = pending.current()
    return f"{current_setting().slug}:factor:{waiting.user_id if waiting else '-'}"


def _button_action(action: Callable[[], R]) -> R:
    """A button's POST: check its CSRF token and do ``action``; a refusal (nothing to
    remove, already set up) is a 409 with its reason."""
    EmptyForm().validate_on_submit() or abort(400)
    with conflict_if_refused(InvalidInput):
        return action()


# ---------------------------------------------------------------- at sign-in


def _verifying_user() -> User:
    user = pending.pending_user(pending.VERIFY)
    if user is None:
        abort(pending.abandon("Please sign in again."))
    return user


def _verify_page(user: User, form: SecondFactorCodeForm) -> str:
    return render_template(
        "auth/second_factor_verify.html",
        form=form,
        passkey_form=PasskeySignInForm(),
        has_totp=confirmed_totp_of(user) is not None,
        has_passkey=bool(passkeys_of(user)),
    )


@bp.get("/login/second-factor")
def verify() -> str:
    return _verify_page(_verifying_user(), SecondFactorCodeForm())


@bp.post("/login/second-factor")
@limiter.limit("30 per minute; 300 per hour")
@limiter.limit("10 per minute", key_func=_pending_account_key)
def verify_submit() -> Response | tuple[str, int]:
    user = _verifying_user()
    form = SecondFactorCodeForm()
    if not form.validate():
        return _verify_page(user, form), INVALID
    return _after_second_factor(user, lambda: factors.verify_code(user, form.code.data or ""))


def _after_second_factor(user: User, check: Callable[[], str]) -> Response:
    """Run ``check`` of the pending person's second factor (it returns which factor
    passed): signed in and on their way, or sent back."""
    try:
        method = check()
    except SecondFactorRefused as refused:  # the counted failure is kept: both answers redirect
        if refused.stop:
            return pending.abandon(str(refused))
        flash(str(refused), "error")
        return redirect(url_for("factors.verify"), code=303)
    return redirect(pending.complete(user, method=method), code=303)


@bp.post("/login/second-factor/passkey/options")
@limiter.limit("30 per minute")
def passkey_sign_in_options() -> Response:
    return _json(passkeys.sign_in_options(_verifying_user()))


@bp.post("/login/second-factor/passkey")
@limiter.limit("30 per minute; 300 per hour")
@limiter.limit("10 per minute", key_func=_pending_account_key)
def passkey_sign_in() -> Response:
    user = _verifying_user()
    form = PasskeySignInForm()
    form.validate() or abort(400)
    return _after_second_factor(user, lambda: passkeys.verify_sign_in(user, form.credential.data))


def _json(body: str) -> Response:
    """Options the browser's passkey ceremony needs (made and remembered for this session)."""
    return Response(body, mimetype="application/json")


def _refused_without_current_password(purpose: str) -> Response | tuple[str, int] | None:
    """The answer when the signed-in person has not typed their current password right,
    else None. Asked before anything that takes away the account's second factor or its
    recovery codes: a session left open on a shared computer must not do that. A wrong
    password counts toward the lockout, as on the account page."""
    form = CurrentPasswordForm()
    if not form.validate_on_submit():
        form.csrf_token.errors and abort(400)
        return _password_refused(form.current_password.errors[0])
    try:
        operations.recheck_current_secrets(
            signed_in_account(), form.current_password.data or "", None, purpose
        )
    except CurrentSecretsRefused as refused:
        return after_wrong_current_secrets(refused) or _password_refused(str(refused))
    return None


def _password_refused(message: str) -> tuple[str, int]:
    flash(message, "error")
    return _manage_page(PasskeyNameForm(formdata=None), {}), INVALID


# ---------------------------------------------------------------- enrolling


def _enrolling_user() -> User | None:
    """Who is setting up a factor: the signed-in person, or one the policy holds at
    sign-in until they have enrolled."""
    if current_user.is_authenticated:
        return signed_in_account()
    return pending.pending_user(pending.ENROL)


def require_enrolling_user(view: Callable[P, R]) -> Callable[P, R | Response]:
    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        if _enrolling_user() is None:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapper


@bp.get("/login/second-factor/enrol")
def enrol() -> str | Response:
    user = pending.pending_user(pending.ENROL)
    if user is None:
        return pending.abandon("Please sign in again.")
    return render_template(
        "auth/second_factor_enrol.html",
        action_form=EmptyForm(),
        passkey_form=PasskeyNameForm(),
        errors={},
    )


@bp.post("/account/second-factor/totp")
@require_enrolling_user
def totp_start() -> Response:
    _button_action(lambda: factors.start_totp_enrolment(_enrolling_user()))
    return redirect(url_for("factors.totp_setup"), code=303)


def _totp_setup_page(form: SecondFactorCodeForm, errors: dict[str, list[str]]) -> str | Response:
    enrolment = factors.totp_enrolment(_enrolling_user())
    if enrolment is None:
        return redirect(url_for("factors.manage"), code=303)
    return render_template("auth/totp_setup.html", enrolment=enrolment, form=form, errors=errors)


@bp.get("/account/second-factor/totp")
@require_enrolling_user
def totp_setup() -> str | Response:
    return _totp_setup_page(SecondFactorCodeForm(), {})


@bp.post("/account/second-factor/totp/confirm")
@require_enrolling_user
def totp_confirm() -> str | Response | tuple[str | Response, int]:
    user = _enrolling_user()
    form = SecondFactorCodeForm()
    if form.validate():
        try:
            codes = factors.confirm_totp(user, form.code.data or "")
        except InvalidInput as error:
            return _totp_setup_page(form, {"code": [str(error)]}), INVALID
        going_on = _signed_in_if_held(user, "totp_enrolled")
        return _enrolled(codes, going_on, "Your authenticator app is set up.")
    return _totp_setup_page(form, {}), INVALID


def _signed_in_if_held(user: User, method: str) -> str:
    """After a factor is added: a person the policy held at sign-in is signed in now.
    Returns where they go next."""
    if current_user.is_authenticated:
        return url_for("factors.manage")
    return pending.complete(user, method=method)


def _enrolled(codes: list[str] | None, going_on: str, message: str) -> str | Response:
    """New recovery codes are shown, once; otherwise straight on."""
    flash(message, "success")
    if codes is None:
        return redirect(going_on, code=303)
    return render_template("auth/recovery_codes.html", codes=codes, going_on=going_on)


@bp.post("/account/passkeys/options")
@require_enrolling_user
def passkey_register_options() -> Response:
    return _json(passkeys.registration_options(_enrolling_user()))


@bp.post("/account/passkeys")
@require_enrolling_user
def passkey_register() -> str | Response | tuple[str | Response, int]:
    user = _enrolling_user()
    form = PasskeyNameForm()
    if form.validate():
        try:
            codes = passkeys.register(user, form.credential.data, form.name.data or "")
        except InvalidInput as error:
            return _add_factor_page(form, {"name": [str(error)]}), INVALID
        going_on = _signed_in_if_held(user, "passkey_enrolled")
        return _enrolled(codes, going_on, "Your passkey is added.")
    return _add_factor_page(form, {}), INVALID


def _add_factor_page(form: PasskeyNameForm, errors: dict[str, list[str]]) -> str:
    if current_user.is_authenticated:
        return _manage_page(form, errors)
    return render_template(
        "auth/second_factor_enrol.html", action_form=EmptyForm(), passkey_form=form, errors=errors
    )


@bp.post("/account/passkeys/<id:passkey_id>/name")
@require_sign_in
def passkey_rename(passkey_id: int) -> Response:
    form = PasskeyRenameForm()
    form.validate() or abort(INVALID, description="Give the passkey a name of 1 to 60 characters.")
    try:
        renamed = passkeys.rename(signed_in_account(), passkey_id, form.name.data or "")
    except InvalidInput as error:
        abort(INVALID, description=str(error))
    if renamed is None:
        abort(404)
    flash(f"Your passkey is now called “{renamed.name}”.", "success")
    return redirect(url_for("factors.manage"), code=303)


@bp.post("/account/passkeys/<id:passkey_id>/remove")
@require_sign_in
def passkey_remove(passkey_id: int) -> Response | tuple[str, int]:
    if (refused := _refused_without_current_password("second_factor_removal")) is not None:
        return refused
    removed = passkeys.remove(signed_in_account(), passkey_id)
    if removed is None:
        abort(404)
    flash(f"Your passkey “{removed.name}” has been removed.", "success")
    return redirect(url_for("factors.manage"), code=303)


# ---------------------------------------------------------------- the person's factors


@bp.get("/account/second-factor")
@require_enrolling_user
def manage() -> str | Response:
    if not current_user.is_authenticated:
        return redirect(url_for("factors.enrol"), code=303)
    return _manage_page(PasskeyNameForm(), {})


def _manage_page(passkey_form: PasskeyNameForm, errors: dict[str, list[str]]) -> str:
    return render_template(
        "auth/second_factor.html",
        rename_form=PasskeyRenameForm(),
        totp=confirmed_totp_of(current_user),
        passkeys=passkeys_of(current_user),
        recovery_codes_left=factors.unused_recovery_codes(current_user),
        action_form=EmptyForm(),
        passkey_form=passkey_form,
        errors=errors,
        policy=factors.factor_policy(),
    )


@bp.post("/account/second-factor/totp/remove")
@require_sign_in
def totp_remove() -> Response | tuple[str, int]:
    if (refused := _refused_without_current_password("second_factor_removal")) is not None:
        return refused
    with conflict_if_refused(InvalidInput):
        factors.remove_totp(signed_in_account())
    flash("Your authenticator app has been removed.", "success")
    return redirect(url_for("factors.manage"), code=303)


@bp.post("/account/second-factor/recovery-codes")
@require_sign_in
def recovery_codes_replace() -> str | Response | tuple[str, int]:
    if (refused := _refused_without_current_password("recovery_codes_replaced")) is not None:
        return refused
    with conflict_if_refused(InvalidInput):
        codes = factors.replace_recovery_codes(signed_in_account())
    return render_template(
        "auth/recovery_codes.html", codes=codes, going_on=url_for("factors.manage")
    )


# ---------------------------------------------------------------- the manager's part


@bp.post("/accounts/<id:user_id>/second-factor/reset")
@require(Action.MANAGE_PEOPLE)
def reset(user_id: int) -> Response:
    EmptyForm().validate_on_submit() or abort(400)
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    with conflict_if_refused(InvalidInput):
        factors.reset_second_factors(user, by=signed_in_account())
    flash(
        f"{user.full_name}'s second factors are removed and they are signed out everywhere. "
        "They can set up a new one after signing in.",
        "success",
    )
    return redirect(url_for("auth.invitations"), code=303)


@bp.post("/second-factor/policy")
@require(Action.MANAGE_SETTING)
def save_policy() -> Response:
    form = FactorPolicyForm()
    if not form.validate():
        abort(INVALID, description="Choose who must use a second factor and a number of days.")
    try:
        factors.save_factor_policy(
            form.required_for.data or "", form.grace_days.data or 0, by=signed_in_account()
        )
    except InvalidInput as error:
        abort(INVALID, description=str(error))
    flash("The second-factor policy is saved.", "success")
    return redirect(url_for("people.overview"), code=303)
