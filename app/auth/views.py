"""Sign-in, sign-out, activation, resets, own account and invitations."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import logout_user
from werkzeug.wrappers import Response

from app.access.policy import Action
from app.auth import operations, pending, second_factor
from app.auth.access import current_user, require, require_sign_in, signed_in_account
from app.auth.devices import (
    devices_of,
    session_ref,
    sign_out_device,
)
from app.auth.factors import people_with_second_factor
from app.auth.forms import (
    ChangeEmailForm,
    ChangeSecretsForm,
    ChooseSecretsForm,
    CorrectEmailForm,
    EmptyForm,
    ForgotForm,
    InviteForm,
    SignInForm,
)
from app.auth.links import LinkRefused, find_usable_link
from app.auth.models import AccountStatus, LinkPurpose, Role, User
from app.auth.operations import CurrentSecretsRefused, SecretsRefused
from app.auth.sessions import STATUS_PATH, end_all_sessions_of
from app.auth.tasks import request_reset_task
from app.errors import conflict, conflict_if_refused
from app.extensions import db, limiter
from app.request_transaction import commit_despite_refusal
from app.security.policy import password_strength_hint
from app.security.redirects import local_path
from app.timezones import local_date
from app.validation import InvalidInput, email_to_look_up
from tenants.binding import current_setting
from workers.after_commit import send_task

bp = Blueprint("auth", __name__, template_folder="templates")

INVALID = 422  # a form that cannot be used as sent
SIGN_IN_EMAIL = "sign_in_email"  # session key: the address just activated or reset
SIGN_IN_REFUSED = "Email, password or PIN not recognised. Please check them and try again."


def _account_key() -> str:
    """The account a sign-in or reset is for: this setting's, never the same email's at
    another setting (one setting's traffic must not lock anyone out of another)."""
    email = email_to_look_up((request.form.get("email") or "")[:254])
    return f"{current_setting().slug}:{email}"


def _safe_next(target: str | None, otherwise: str | None = None) -> str:
    return local_path(target) or otherwise or url_for("home.index")


@bp.get("/login")
def login() -> str:
    if request.args.get("ended") == "access":
        flash(
            f"You have been signed out because your access to {g.setting.name}'s learning "
            f"journals has ended. If you think this is a mistake, please contact {g.setting.name}.",
            "info",
        )
    elif request.args.get("ended") == "limit":
        hours = current_app.config["LJ"].SESSION_ABSOLUTE_TIMEOUT / 3600
        flash(
            f"You were signed out because a sign-in lasts at most {hours:g} hours, however "
            "busy. Please sign in again.",
            "info",
        )
    elif request.args.get("timeout"):
        flash("You were signed out after a period of inactivity. Please sign in again.", "info")
    form = SignInForm()
    form.email.data = form.email.data or session.pop(SIGN_IN_EMAIL, None)
    return render_template("auth/login.html", form=form)


@bp.post("/login")
@limiter.limit("30 per minute; 300 per hour")
@limiter.limit("10 per minute", key_func=_account_key)
def login_submit() -> Response | tuple[str, int]:
    form = SignInForm()
    if not form.validate():
        return render_template("auth/login.html", form=form), INVALID
    user = operations.authenticate(
        form.email.data or "", form.password.data or "", form.pin.data or ""
    )
    if user is None:  # the failure is counted (and any lockout), committed with the redirect
        flash(SIGN_IN_REFUSED, "error")
        return redirect(url_for("auth.login"), code=303)
    next_path = _safe_next(request.args.get("next"))
    shared_computer = bool(form.shared_computer.data)
    step = second_factor.step_after_password_and_pin(user)
    if step is not None:
        return pending.begin(user, step, next_path, shared_computer=shared_computer)
    # Asked before the sign-in changes anything, so that no later query flushes those
    # changes early: they are written by the request's one commit, whose failure is answered.
    enrol_by = second_factor.enrolment_ahead(user)
    target = pending.sign_in(
        user, next_path, method="password_and_pin", shared_computer=shared_computer
    )
    if enrol_by is not None:
        # Told at each sign-in of the grace period, not first on the day it ends.
        flash(
            f"{g.setting.name} requires a second factor for your role: please set one up "
            f"on your account page before {local_date(enrol_by)}. After that you will be "
            "asked to set one up when you sign in.",
            "info",
        )
    return redirect(target, code=303)


@bp.post("/logout")
def logout() -> Response:
    EmptyForm().validate_on_submit() or abort(400)
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.get(STATUS_PATH)
def session_status() -> Response:
    """How long this session has left, for the idle warning (asking does not extend it)."""
    signed_in = current_user.is_authenticated
    ended = getattr(session, "ended_reason", None) if not signed_in else None
    response = jsonify(
        signed_in=signed_in,
        remaining=round(max(0.0, session.remaining or 0.0), 1) if signed_in else 0,
        ended=ended,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/session/keep-alive")
@require_sign_in
def keep_alive() -> Response | tuple[str, int]:
    """ "Stay signed in": any request slides the idle timeout; this one does nothing else."""
    EmptyForm().validate_on_submit() or abort(400)
    session.modified = True
    if request.accept_mimetypes.best == "application/json":
        return "", 204
    return redirect(_safe_next(request.form.get("next")), code=303)


def _link_problem_page(refused: LinkRefused, purpose: str) -> tuple[str, int]:
    status = 404 if refused.problem.value == "unknown" else 410
    return render_template(
        "auth/link_problem.html", problem=refused.problem.value, purpose=purpose
    ), status


def _account_email(token: str, purpose: str) -> str:
    """The email of the account a usable link is for (``LinkRefused`` if it is not usable)."""
    link = find_usable_link(token, LinkPurpose(purpose))
    return db.session.get_one(User, link.user_id).email


def _choose_secrets(
    template: str,
    token: str,
    complete: Callable[[str, str, str], User],
    done_message: str,
    purpose: str,
) -> Response | tuple[str, int]:
    """Shared flow of activation and reset: one page choosing a new password and PIN,
    saying which account it is for; the sign-in page then has that email filled in."""
    form = ChooseSecretsForm()
    errors: dict[str, list[str]] = {}
    try:
        account_email = _account_email(token, purpose)
    except LinkRefused as refused:
        return _link_problem_page(refused, purpose)
    if request.method == "POST":
        if not form.validate():
            return render_template(
                template, form=form, errors=errors, account_email=account_email
            ), INVALID
        errors = {k: [v] for k, v in form.mismatches().items()}
        if not errors:
            try:
                user = complete(token, form.password.data or "", form.pin.data or "")
            except LinkRefused as refused:
                return _link_problem_page(refused, purpose)
            except SecretsRefused as refused:
                errors = refused.problems
            except InvalidInput as error:
                errors = {"password": [str(error)]}
            else:
                session[SIGN_IN_EMAIL] = user.email
                flash(done_message, "success")
                return redirect(url_for("auth.login"), code=303)
        hint = password_strength_hint(form.password.data or "")
        return render_template(
            template, form=form, errors=errors, hint=hint, account_email=account_email
        ), INVALID
    return render_template(template, form=form, errors=errors, account_email=account_email), 200


def _activate_in_this_browser(token: str, password: str, pin: str) -> User:
    """Activation, and the browser it happened in is the account's first (known) one."""
    user = operations.activate_account(token, password, pin)
    pending.remember_this_browser(user)
    return user


@bp.route("/activate/<token>", methods=["GET", "POST"])
def activate(token: str) -> Response | tuple[str, int]:
    return _choose_secrets(
        "auth/activate.html",
        token,
        _activate_in_this_browser,
        "Your account is ready. Please sign in with your email, password and PIN.",
        "activation",
    )


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Response | tuple[str, int]:
    return _choose_secrets(
        "auth/reset.html",
        token,
        operations.reset_secrets,
        "Your new password and PIN are set. Please sign in.",
        "reset",
    )


@bp.get("/password/forgot")
def forgot() -> str:
    return render_template("auth/forgot.html", form=ForgotForm())


@bp.post("/password/forgot")
@limiter.limit("10 per hour")
@limiter.limit("3 per hour", key_func=_account_key)
def forgot_submit() -> tuple[str, int] | str:
    form = ForgotForm()
    if not form.validate():
        return render_template("auth/forgot.html", form=form), INVALID
    # The same for any address: a worker looks the account up and emails the
    # link, so the answer's timing cannot tell whether the account exists.
    send_task(
        request_reset_task, current_setting().slug, form.email.data or "", request.remote_addr
    )
    return render_template("auth/forgot_sent.html")


@bp.get("/.well-known/change-password")
def change_password_url() -> Response:
    """Where password managers send a person to change their password (W3C well-known URL)."""
    return redirect(url_for("auth.account"))


@bp.get("/account")
@require_sign_in
def account() -> str:
    return render_template(
        "auth/account.html",
        secrets_form=ChangeSecretsForm(),
        email_form=ChangeEmailForm(),
        errors={},
    )


def after_wrong_current_secrets(refused: CurrentSecretsRefused) -> Response | None:
    """Keep the counted failure (its own outcome: nothing else was changed); when it
    locked the account, the person is signed out and sent to sign in."""
    # The form is shown again with a 422, but the failure must count towards the lockout.
    commit_despite_refusal()
    if not refused.locked:
        return None
    logout_user()
    session.clear()
    flash(str(refused), "error")
    return redirect(url_for("auth.login"), code=303)


@bp.get("/account/devices")
@require_sign_in
def devices() -> str:
    return render_template(
        "auth/devices.html",
        devices=devices_of(current_setting().slug, current_user.id, session.sid),  # type: ignore[attr-defined]
        form=EmptyForm(),
    )


@bp.post("/account/devices/<ref>/sign-out")
@require_sign_in
def sign_out_one_device(ref: str) -> Response:
    EmptyForm().validate_on_submit() or abort(400)
    if ref == session_ref(session.sid):  # type: ignore[attr-defined]
        abort(409, description="To sign out this device, use Sign out.")
    if sign_out_device(current_setting().slug, current_user.id, ref):
        flash("That device is signed out.", "success")
    else:
        flash("That device was already signed out.", "info")
    return redirect(url_for("auth.devices"), code=303)


@bp.post("/account/devices/sign-out-others")
@require_sign_in
def sign_out_other_devices() -> Response:
    EmptyForm().validate_on_submit() or abort(400)
    ended = end_all_sessions_of(current_setting().slug, current_user.id, keep=session.sid)  # type: ignore[attr-defined]
    flash(
        f"Signed out everywhere else ({ended} other {'device' if ended == 1 else 'devices'}).",
        "success",
    )
    return redirect(url_for("auth.devices"), code=303)


@bp.post("/account/secrets")
@require_sign_in
def change_secrets() -> Response | tuple[str, int]:
    form = ChangeSecretsForm()
    errors: dict[str, list[str]] = {}
    if form.validate():
        try:
            operations.change_secrets(
                signed_in_account(),
                form.current_password.data or "",
                form.current_pin.data or "",
                form.new_password.data or "",
                form.new_pin.data or "",
            )
        except CurrentSecretsRefused as refused:
            if (signed_out := after_wrong_current_secrets(refused)) is not None:
                return signed_out
            errors = {"current_password": [str(refused)]}
        except SecretsRefused as refused:
            errors = {f"new_{k}": v for k, v in refused.problems.items()}
        except InvalidInput as error:
            errors = {"current_password": [str(error)]}
        else:
            logout_user()
            session.clear()
            flash(
                "Your changes are saved and you have been signed out everywhere. "
                "Please sign in again.",
                "success",
            )
            return redirect(url_for("auth.login"), code=303)
    return render_template(
        "auth/account.html", secrets_form=form, email_form=ChangeEmailForm(), errors=errors
    ), INVALID


@bp.post("/account/email")
@require_sign_in
def change_email() -> Response | tuple[str, int]:
    form = ChangeEmailForm()
    errors: dict[str, list[str]] = {}
    if form.validate():
        try:
            sent = operations.request_email_change(
                signed_in_account(), form.new_email.data or "", form.current_password.data or ""
            )
        except CurrentSecretsRefused as refused:
            if (signed_out := after_wrong_current_secrets(refused)) is not None:
                return signed_out
            errors = {"current_password": [str(refused)]}
        except InvalidInput as error:
            errors = {"new_email": [str(error)]}
        else:
            flash(
                "We have sent a link to your new address. Open it to confirm the change."
                if sent  # a second tap: the first one's email is the one to open
                else f"We sent a link to {form.new_email.data} a moment ago. "
                "Open it to confirm the change.",
                "success",
            )
            # From the email check after sign-in, on to where the person was going.
            return redirect(_safe_next(request.args.get("next"), url_for("auth.account")), code=303)
    return render_template(
        "auth/account.html", secrets_form=ChangeSecretsForm(), email_form=form, errors=errors
    ), INVALID


@bp.route("/account/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str) -> Response | tuple[str, int] | str:
    # A GET only shows a button: mail scanners that fetch links must not confirm. It
    # says already whether the link can be used, and for which address.
    form = EmptyForm()
    if request.method == "GET":
        try:
            link = find_usable_link(token, LinkPurpose.EMAIL_CHANGE)
        except LinkRefused as refused:
            return _link_problem_page(refused, "email_change")
        return render_template("auth/confirm_email.html", form=form, new_email=link.new_email)
    form.validate_on_submit() or abort(400)
    try:
        operations.confirm_email_change(token)
    except LinkRefused as refused:
        return _link_problem_page(refused, "email_change")
    except InvalidInput as error:
        conflict(error)
    flash("Your email address has been changed.", "success")
    return redirect(url_for("home.index"), code=303)


@bp.get("/invitations")
@require(Action.MANAGE_PEOPLE)
def invitations() -> str:
    return _invitations_page(InviteForm(), {})


def _invitations_page(form: InviteForm, errors: dict[str, list[str]]) -> str:
    people = db.session.scalars(db.select(User).order_by(User.status, User.full_name)).all()
    return render_template(
        "auth/invitations.html",
        form=form,
        errors=errors,
        people=people,
        AccountStatus=AccountStatus,
        action_form=EmptyForm(),
        correct_form=CorrectEmailForm(),
        with_second_factor=people_with_second_factor(),
    )


@bp.post("/invitations")
@require(Action.MANAGE_PEOPLE)
def invite() -> Response | tuple[str, int] | str:
    form = InviteForm()
    errors: dict[str, list[str]] = {}
    if form.validate():
        try:
            user = operations.invite_user(
                form.full_name.data or "",
                form.email.data or "",
                Role(form.role.data),
                signed_in_account(),
            )
        except operations.DeactivatedAccount as existing:
            return render_template(
                "people/offer_reactivation.html", person=existing.user, role=Role(form.role.data)
            )
        except InvalidInput as error:
            errors = {"email" if "email" in str(error).lower() else "full_name": [str(error)]}
        else:
            flash(f"Invitation sent to {user.email}.", "success")
            return redirect(url_for("auth.invitations"), code=303)
    return _invitations_page(form, errors), INVALID


def _invited_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/invitations/<id:user_id>/resend")
@require(Action.MANAGE_PEOPLE)
def resend(user_id: int) -> Response:
    EmptyForm().validate_on_submit() or abort(400)
    user = _invited_user(user_id)
    with conflict_if_refused(InvalidInput):
        sent = operations.resend_invitation(user, signed_in_account())
    if sent:
        flash(
            f"A new invitation has been sent to {user.email}; the old link no longer works.",
            "success",
        )
    else:  # a second tap
        flash(f"The invitation was sent to {user.email} a moment ago: its link works.", "success")
    return redirect(url_for("auth.invitations"), code=303)


@bp.post("/invitations/<id:user_id>/email")
@require(Action.MANAGE_PEOPLE)
def correct_email(user_id: int) -> Response:
    form = CorrectEmailForm()
    if not form.validate_on_submit():
        # The address typed is named; only a form without its token is a bare 400.
        abort(422 if form.email.errors else 400, description=" ".join(form.email.errors) or None)
    user = _invited_user(user_id)
    try:
        operations.correct_invited_email(user, form.email.data or "", signed_in_account())
    except InvalidInput as error:
        abort(422, description=str(error))
    flash(f"Email corrected; a new invitation has been sent to {user.email}.", "success")
    return redirect(url_for("auth.invitations"), code=303)
