"""Reading and accepting the usage policy, the email check, and the manager's page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response

from app.access.policy import Action
from app.auth.access import current_user, require, require_sign_in, signed_in_account
from app.auth.forms import ChangeEmailForm, EmptyForm
from app.journal.text import ObservationText
from app.responsible_use import operations
from app.responsible_use.forms import AcceptPolicyForm, PublishPolicyForm, RulesForm
from app.security.redirects import local_path
from app.validation import InvalidInput

bp = Blueprint("responsible_use", __name__, template_folder="templates")

INVALID = 422
Page = str | Response | tuple[str, int]


@bp.app_template_global()
def policy_html(text: str) -> Markup:
    """The policy's text as the setting wrote it: paragraphs, lists, bold and italic."""
    return ObservationText(text).html


@bp.app_template_global()
def sharing_rule() -> str:
    """The setting's sharing rule, for the reminders beside photos and downloads."""
    return operations.rules().sharing_rule


# ---------------------------------------------------------------- everyone


def _where_next() -> str:
    """Where the person was going when a step after sign-in stopped them."""
    return local_path(request.args.get("next")) or url_for("home.index")


@bp.route("/usage-policy", methods=["GET", "POST"])
@require_sign_in
def usage_policy() -> Page:
    policy = operations.current_policy()
    form = AcceptPolicyForm(version=str(policy.version))
    if request.method == "POST":
        if not form.validate():
            return _policy_page(policy, form), INVALID
        try:
            operations.accept_policy(signed_in_account(), int(form.version.data))
        except operations.PolicyChanged as changed:
            flash(str(changed), "error")
            return redirect(url_for(".usage_policy", next=request.args.get("next")), code=303)
        flash("Thank you. You have accepted the usage policy.", "success")
        return redirect(_where_next(), code=303)
    return _policy_page(policy, form)


def _policy_page(policy: operations.UsagePolicy, form: AcceptPolicyForm) -> str:
    return render_template(
        "responsible_use/usage_policy.html",
        policy=policy,
        form=form,
        due=operations.policy_not_accepted(current_user),
    )


@bp.route("/account/email-check", methods=["GET", "POST"])
@require_sign_in
def email_check() -> Page:
    """ "Is this still your email address?": yes here, or a change through the account's
    own confirmed change (``auth.change_email``), which then goes on to ``next``."""
    form = EmptyForm()
    if request.method == "POST":
        if not form.validate():
            return _email_check_page(), INVALID
        operations.confirm_email_is_current(signed_in_account())
        flash("Thank you for confirming your email address.", "success")
        return redirect(_where_next(), code=303)
    return _email_check_page()


def _email_check_page() -> str:
    return render_template(
        "responsible_use/email_check.html", form=EmptyForm(), change_form=ChangeEmailForm()
    )


# ---------------------------------------------------------------- the manager


@bp.get("/responsible-use")
@require(Action.MANAGE_SETTING)
def manage() -> str:
    rules = operations.rules()
    return _manage_page(
        PublishPolicyForm(text=operations.current_policy().text),
        RulesForm(sharing_rule=rules.sharing_rule, email_check_months=rules.email_check_months),
    )


def _manage_page(policy_form: PublishPolicyForm, rules_form: RulesForm, **errors: list[str]) -> str:
    return render_template(
        "responsible_use/manage.html",
        policy=operations.current_policy(),
        policy_form=policy_form,
        rules_form=rules_form,
        errors=errors,
        acceptances=operations.acceptances(),
        not_confirmed=operations.emails_not_confirmed(),
        email_check_months=operations.rules().email_check_months,
    )


@bp.post("/responsible-use/policy")
@require(Action.MANAGE_SETTING)
def publish_policy() -> Page:
    form = PublishPolicyForm()
    if form.validate():
        try:
            policy = operations.publish_policy(form.text.data or "", by=signed_in_account())
        except InvalidInput as error:
            return _manage_page(form, _saved_rules_form(), text=[str(error)]), INVALID
        flash(
            f"Version {policy.version} is published. Everyone will be asked to accept it.",
            "success",
        )
        return redirect(url_for(".manage"), code=303)
    return _manage_page(form, _saved_rules_form()), INVALID


def _saved_rules_form() -> RulesForm:
    rules = operations.rules()
    return RulesForm(
        formdata=None, sharing_rule=rules.sharing_rule, email_check_months=rules.email_check_months
    )


@bp.post("/responsible-use/rules")
@require(Action.MANAGE_SETTING)
def save_rules() -> Page:
    form = RulesForm()
    policy_form = PublishPolicyForm(formdata=None, text=operations.current_policy().text)
    if form.validate():
        try:
            operations.save_rules(
                form.sharing_rule.data or "",
                form.email_check_months.data or 0,
                by=signed_in_account(),
            )
        except InvalidInput as error:
            return _manage_page(policy_form, form, sharing_rule=[str(error)]), INVALID
        flash("The sharing rule and email checks are saved.", "success")
        return redirect(url_for(".manage"), code=303)
    return _manage_page(policy_form, form), INVALID
