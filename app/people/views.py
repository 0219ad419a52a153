"""People pages: children, staff, parents and the links between them.

Managers run everything here; staff see the setting's active children; a
parent sees only the children linked to them. Views parse the form, call an
operation and redirect; the request commits once (``app.request_transaction``), and
a refusal re-shows the form with a 422, which keeps nothing, so nothing is ever saved
half-way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app import clock
from app.access.policy import Action, can
from app.access.scopes import visible_child
from app.auth.access import current_user, require, signed_in_account
from app.auth.forms import FactorPolicyForm
from app.auth.models import AccountStatus, Role, User
from app.auth.operations import DeactivatedAccount
from app.auth.second_factor import factor_policy
from app.errors import conflict_if_refused
from app.extensions import db
from app.people import accounts, links, needs_attention, policies
from app.people import children as child_records
from app.people import staff as staff_records
from app.people.forms import (
    ActionForm,
    ChildForm,
    ChildForParentForm,
    LeavingDateForm,
    NewStaffForm,
    ParentForChildForm,
    PeoplePoliciesForm,
    StaffDatesForm,
)
from app.people.models import Child
from app.request_transaction import undone_if_refused
from app.retention.archive import archived_children_with_deadlines
from app.retention.schedule import retention_schedule
from app.validation import FieldErrors, InvalidInput, field_errors

bp = Blueprint("people", __name__, url_prefix="/people", template_folder="templates")

INVALID = 422  # a form that cannot be used as sent
Page = str | tuple[str, int] | Response


# ---------------------------------------------------------------- finding things


def _child_or_404(child_id: int) -> Child:
    child = db.session.get(Child, child_id)
    if child is None:
        abort(404)
    return child


def _visible_child_or_404(child_id: int) -> Child:
    """The child, if the signed-in person may see them; otherwise 404 (not 403), so a
    guessed id says nothing about which children exist."""
    return visible_child(current_user, child_id) or abort(404)


def _person_or_404(user_id: int, roles: tuple[Role, ...]) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.role not in roles:
        abort(404)
    return user


def _check_action() -> None:
    ActionForm().validate_on_submit() or abort(400)


# ---------------------------------------------------------------- overview


def _overview_page(form: PeoplePoliciesForm, errors: FieldErrors) -> str:
    policy = factor_policy()
    return render_template(
        "people/overview.html",
        attention=needs_attention.needs_attention(policy),
        policies_form=form,
        errors=errors,
        factor_policy_form=FactorPolicyForm(
            formdata=None, required_for=policy.required_for, grace_days=policy.grace_days
        ),
    )


@bp.get("/")
@require(Action.MANAGE_PEOPLE)
def overview() -> str:
    return _overview_page(PeoplePoliciesForm(formdata=None, obj=policies.people_policies()), {})


@bp.post("/policies")
@require(Action.MANAGE_SETTING)
def save_policies() -> Page:
    form = PeoplePoliciesForm()
    errors: FieldErrors = {}
    if form.validate():
        try:
            policies.save_people_policies(form.policies(), by=signed_in_account())
        except InvalidInput as error:
            errors = field_errors(error, "parent_grace_days")
        else:
            flash("The people policies are saved.", "success")
            return redirect(url_for("people.overview"), code=303)
    return _overview_page(form, errors), INVALID


# ---------------------------------------------------------------- children


@bp.get("/children")
@require(Action.SEE_CHILD)
def children() -> str:
    if can(current_user, Action.READ_AS_FAMILY):
        shown = links.children_of(current_user)
    else:
        shown = child_records.active_children()
    return render_template("people/children.html", children=shown)


@bp.get("/children/archive")
@require(Action.MANAGE_PEOPLE)
def archive() -> str:
    return render_template(
        "people/children_archive.html",
        children=archived_children_with_deadlines(),
        years=retention_schedule()["retention_years_after_leaving"],
        today=clock.today(),
    )


@bp.get("/children/<id:child_id>")
@require(Action.SEE_CHILD)
def child(child_id: int) -> str:
    shown = _visible_child_or_404(child_id)
    if can(current_user, Action.MANAGE_PEOPLE):
        return _child_page_with(shown)
    if can(current_user, Action.SEE_CHILDREN_RECORDS):
        return render_template("people/child.html", child=shown, links=links.links_of_child(shown))
    # A parent sees their child, not who else is linked to them.
    return render_template("people/child.html", child=shown)


def _child_form(**data: object) -> ChildForm:
    form = ChildForm(**data)
    form.offer_key_people([(person.id, person.full_name) for person in staff_records.key_people()])
    return form


def _child_form_page(
    form: ChildForm,
    errors: FieldErrors,
    *,
    child: Child | None = None,
    duplicate: Child | None = None,
) -> str:
    return render_template(
        "people/child_form.html", form=form, errors=errors, child=child, duplicate=duplicate
    )


@bp.get("/children/new")
@require(Action.MANAGE_PEOPLE)
def new_child() -> str:
    return _child_form_page(_child_form(), {})


@bp.post("/children/new")
@require(Action.MANAGE_PEOPLE)
def create_child() -> Page:
    form = _child_form()
    errors: FieldErrors = {}
    if form.validate():
        try:
            added = child_records.create_child(
                form.details(),
                by=signed_in_account(),
                confirm_duplicate=form.confirm_duplicate.data,
            )
        except child_records.PossibleDuplicate as warning:  # raised before any write
            return _child_form_page(form, {}, duplicate=warning.existing)
        except InvalidInput as error:
            errors = field_errors(error, "first_name")
        else:
            flash(f"{added.full_name} has been added.", "success")
            return redirect(url_for("people.child", child_id=added.id), code=303)
    return _child_form_page(form, errors), INVALID


@bp.get("/children/<id:child_id>/edit")
@require(Action.MANAGE_PEOPLE)
def edit_child(child_id: int) -> str:
    shown = _child_or_404(child_id)
    form = _child_form(obj=shown, key_person_id=shown.key_person_id or 0)
    return _child_form_page(form, {}, child=shown)


@bp.post("/children/<id:child_id>/edit")
@require(Action.MANAGE_PEOPLE)
def update_child(child_id: int) -> Page:
    shown = _child_or_404(child_id)
    form = _child_form()
    errors: FieldErrors = {}
    if form.validate():
        try:
            with undone_if_refused():  # the form is shown again beside the child as they were
                child_records.update_child(
                    shown,
                    form.details(),
                    by=signed_in_account(),
                    confirm_duplicate=form.confirm_duplicate.data,
                )
        except child_records.PossibleDuplicate as warning:
            return _child_form_page(form, {}, child=shown, duplicate=warning.existing)
        except InvalidInput as error:
            errors = field_errors(error, "first_name")
        else:
            flash(f"{shown.full_name}'s details have been saved.", "success")
            return redirect(url_for("people.child", child_id=shown.id), code=303)
    return _child_form_page(form, errors, child=shown), INVALID


@bp.post("/children/<id:child_id>/leaving")
@require(Action.MANAGE_PEOPLE)
def set_leaving_date(child_id: int) -> Page:
    shown = _child_or_404(child_id)
    form = LeavingDateForm()
    if form.validate():
        try:
            with undone_if_refused():  # the child's page shows them as they were
                child_records.set_child_leaving_date(
                    shown, form.leaving_date.data, by=signed_in_account()
                )
        except InvalidInput as error:
            form.leaving_date.errors = [str(error)]
        else:
            flash(_leaving_message(shown), "success")
            return redirect(url_for("people.child", child_id=shown.id), code=303)
    return _child_page_with(shown, leaving_form=form), INVALID


def _leaving_message(child: Child) -> str:
    if child.is_archived:
        return f"{child.full_name} has left and is now in the archive."
    if child.leaving_date is None:
        return f"{child.full_name} has no leaving date."
    return f"{child.full_name} will leave on {child.leaving_date:%-d %B %Y}."


def _child_page_with(child: Child, **forms: object) -> str:
    context: dict[str, object] = {
        "child": child,
        "links": links.links_of_child(child),
        "leaving_form": LeavingDateForm(formdata=None, leaving_date=child.leaving_date),
        "parent_form": ParentForChildForm(formdata=None),
    }
    context.update(forms)
    return render_template("people/child.html", **context)


@bp.get("/children/<id:child_id>/archive")
@require(Action.MANAGE_PEOPLE)
def confirm_archive_child(child_id: int) -> str:
    shown = _child_or_404(child_id)
    if shown.is_archived:
        abort(409, description=f"{shown.full_name} has already left.")
    return render_template("people/confirm_archive.html", child=shown, today=clock.today())


@bp.post("/children/<id:child_id>/archive")
@require(Action.MANAGE_PEOPLE)
def archive_child(child_id: int) -> Response:
    _check_action()
    shown = _child_or_404(child_id)
    child_records.archive_child(shown, by=signed_in_account())
    flash(f"{shown.full_name} has left and is now in the archive.", "success")
    return redirect(url_for("people.child", child_id=shown.id), code=303)


# ---------------------------------------------------------------- linking parents


@bp.post("/children/<id:child_id>/parents")
@require(Action.MANAGE_PEOPLE)
def add_parent_to_child(child_id: int) -> Page:
    """Two steps: the typed details lead to a confirmation screen; confirming links."""
    shown = _child_or_404(child_id)
    if shown.is_archived:
        abort(409, description=f"{shown.full_name} has left: no new links can be made.")
    form = ParentForChildForm()
    errors: FieldErrors = {}
    if form.validate():
        try:
            proposal = links.propose_link(
                form.full_name.data or "", form.email.data or "", form.relationship.data or ""
            )
            if form.confirmed.data == "yes" and form.shown_parent_id.data == proposal.account_key:
                with undone_if_refused():  # the child's page shows their links as they were
                    link = links.link_proposed(proposal, shown, by=signed_in_account())
                flash(f"{link.parent.full_name} is now linked to {shown.full_name}.", "success")
                return redirect(url_for("people.child", child_id=shown.id), code=303)
        except InvalidInput as error:
            errors = field_errors(error, "email")
        else:  # nothing was written: the manager confirms first
            return render_template(
                "people/link_confirm.html",
                child=shown,
                parent=proposal.existing,
                typed_name=proposal.full_name,
                email=proposal.email,
                relationship=proposal.relationship,
                form=form,
                shown_parent_id=proposal.account_key,
                reactivates=proposal.reactivates,
                action=url_for("people.add_parent_to_child", child_id=shown.id),
                back=url_for("people.child", child_id=shown.id),
            )
    return _child_page_with(shown, parent_form=form, parent_errors=errors), INVALID


@bp.get("/children/<id:child_id>/parents/<id:parent_id>/unlink")
@require(Action.MANAGE_PEOPLE)
def confirm_unlink_parent(child_id: int, parent_id: int) -> str:
    shown = _child_or_404(child_id)
    parent = _person_or_404(parent_id, (Role.PARENT,))
    if not links.is_linked(parent, shown):
        abort(409, description=f"{parent.full_name} is not linked to {shown.full_name}.")
    return render_template("people/confirm_unlink.html", child=shown, parent=parent)


@bp.post("/children/<id:child_id>/parents/<id:parent_id>/unlink")
@require(Action.MANAGE_PEOPLE)
def unlink_parent(child_id: int, parent_id: int) -> Response:
    _check_action()
    shown = _child_or_404(child_id)
    parent = _person_or_404(parent_id, (Role.PARENT,))
    if links.unlinked_already(parent, shown, signed_in_account()):
        flash(f"{parent.full_name} is already unlinked from {shown.full_name}.", "success")
        return redirect(url_for("people.child", child_id=shown.id), code=303)
    with conflict_if_refused(InvalidInput):
        links.unlink_parent(parent, shown, by=signed_in_account())
    flash(f"{parent.full_name} is no longer linked to {shown.full_name}.", "success")
    return redirect(url_for("people.child", child_id=shown.id), code=303)


# ---------------------------------------------------------------- parents


@bp.get("/parents")
@require(Action.MANAGE_PEOPLE)
def parents() -> str:
    return render_template("people/parents.html", parents=links.parents())


def _child_choices() -> list[tuple[int, str]]:
    return [
        (c.id, f"{c.full_name} ({c.date_of_birth:%-d %b %Y})")
        for c in child_records.active_children()
    ]


def _parent_page(parent: User, form: ChildForParentForm | None = None) -> str:
    if form is None:
        form = ChildForParentForm(formdata=None)
    form.offer_children(_child_choices())
    return render_template(
        "people/parent.html",
        parent=parent,
        children=links.children_of(parent),
        link_form=form,
    )


@bp.get("/parents/<id:parent_id>")
@require(Action.MANAGE_PEOPLE)
def parent(parent_id: int) -> str:
    return _parent_page(_person_or_404(parent_id, (Role.PARENT,)))


@bp.post("/parents/<id:parent_id>/children")
@require(Action.MANAGE_PEOPLE)
def link_child_to_parent(parent_id: int) -> Page:
    shown = _person_or_404(parent_id, (Role.PARENT,))
    form = ChildForParentForm()
    form.offer_children(_child_choices())
    if form.validate():
        target = _child_or_404(form.child_id.data)
        reactivates = shown.status is AccountStatus.DEACTIVATED
        try:
            relationship = links.clean_relationship(form.relationship.data or "")
            if form.confirmed.data == "yes":
                with undone_if_refused():  # the parent's page shows them as they were
                    links.link_parent(
                        shown, target, relationship, by=signed_in_account(), reactivate=reactivates
                    )
                flash(f"{shown.full_name} is now linked to {target.full_name}.", "success")
                return redirect(url_for("people.parent", parent_id=shown.id), code=303)
        except InvalidInput as error:
            form.relationship.errors = [str(error)]
        else:
            return render_template(
                "people/link_confirm.html",
                child=target,
                parent=shown,
                typed_name=shown.full_name,
                email=shown.email,
                relationship=relationship,
                form=form,
                shown_parent_id=str(shown.id),
                reactivates=reactivates,
                action=url_for("people.link_child_to_parent", parent_id=shown.id),
                back=url_for("people.parent", parent_id=shown.id),
            )
    return _parent_page(shown, form), INVALID


# ---------------------------------------------------------------- staff


@bp.get("/staff")
@require(Action.MANAGE_PEOPLE)
def staff() -> str:
    return render_template("people/staff.html", staff=staff_records.staff())


@bp.get("/staff/new")
@require(Action.MANAGE_PEOPLE)
def new_staff() -> str:
    return render_template("people/staff_new.html", form=NewStaffForm(), errors={})


@bp.post("/staff/new")
@require(Action.MANAGE_PEOPLE)
def create_staff() -> Page:
    form = NewStaffForm()
    errors: FieldErrors = {}
    if form.validate():
        try:
            added = staff_records.add_staff(
                form.full_name.data or "",
                form.email.data or "",
                Role(form.role.data),
                start_date=form.start_date.data,
                leaving_date=form.leaving_date.data,
                by=signed_in_account(),
            )
        except DeactivatedAccount as existing:  # raised before any write
            return render_template(
                "people/offer_reactivation.html",
                person=existing.user,
                role=Role(form.role.data),
            )
        except InvalidInput as error:
            errors = field_errors(error, "email")
        else:
            flash(f"{added.full_name} has been invited: they will get an email.", "success")
            return redirect(url_for("people.staff_member", user_id=added.id), code=303)
    return render_template("people/staff_new.html", form=form, errors=errors), INVALID


def _staff_page(member: User, form: StaffDatesForm | None = None) -> str:
    record = staff_records.staff_dates(member)
    if form is None:
        form = StaffDatesForm(formdata=None, obj=record)
    return render_template(
        "people/staff_member.html",
        member=member,
        record=record,
        dates_form=form,
    )


@bp.get("/staff/<id:user_id>")
@require(Action.MANAGE_PEOPLE)
def staff_member(user_id: int) -> str:
    return _staff_page(_person_or_404(user_id, staff_records.STAFF_ROLES))


@bp.post("/staff/<id:user_id>/dates")
@require(Action.MANAGE_PEOPLE)
def set_staff_dates(user_id: int) -> Page:
    member = _person_or_404(user_id, staff_records.STAFF_ROLES)
    form = StaffDatesForm()
    if form.validate():
        try:
            with undone_if_refused():  # the page shows the dates as they were
                staff_records.set_staff_dates(
                    member, form.start_date.data, form.leaving_date.data, by=signed_in_account()
                )
        except InvalidInput as error:
            getattr(form, getattr(error, "field", "leaving_date")).errors = [str(error)]
        else:
            flash(f"{member.full_name}'s dates have been saved.", "success")
            return redirect(url_for("people.staff_member", user_id=member.id), code=303)
    return _staff_page(member, form), INVALID


# ---------------------------------------------------------------- deactivation and coming back


def _person_page(person: User) -> str:
    if person.role is Role.PARENT:
        return url_for("people.parent", parent_id=person.id)
    return url_for("people.staff_member", user_id=person.id)


def _account_or_404(user_id: int) -> User:
    return _person_or_404(user_id, (Role.MANAGER, Role.STAFF, Role.PARENT))


def _confirmation(user_id: int, template: str) -> str:
    person = _account_or_404(user_id)
    return render_template(template, person=person, back=_person_page(person))


def _access_changed(
    user_id: int,
    change: Callable[[User], None],
    done: str,
    *,
    done_already: Callable[[User], bool],
    said_already: str,
) -> Response:
    """Deactivate or reactivate as confirmed: 409 with the reason if it cannot be done; a
    second tap (``done_already``) is told what the first did (``said_already``)."""
    _check_action()
    person = _account_or_404(user_id)
    if done_already(person):
        flash(said_already.format(name=person.full_name), "success")
        return redirect(_person_page(person), code=303)
    with conflict_if_refused(InvalidInput):
        change(person)
    flash(done.format(name=person.full_name), "success")
    return redirect(_person_page(person), code=303)


@bp.get("/<id:user_id>/deactivate")
@require(Action.DEACTIVATE_ACCOUNT)
def confirm_deactivate(user_id: int) -> str:
    return _confirmation(user_id, "people/confirm_deactivate.html")


@bp.post("/<id:user_id>/deactivate")
@require(Action.DEACTIVATE_ACCOUNT)
def deactivate(user_id: int) -> Response:
    return _access_changed(
        user_id,
        lambda person: accounts.deactivate_now(person, by=signed_in_account(), reason="by manager"),
        "{name}'s account is deactivated; they have been signed out.",
        done_already=lambda person: accounts.deactivated_already(person, by=signed_in_account()),
        said_already="{name}'s account is already deactivated.",
    )


def _role_to_come_back_as(values: Mapping[str, str]) -> Role | None:
    """The role an invitation asked for, which a deactivated account comes back with."""
    if not values.get("role"):
        return None
    try:
        return Role(values["role"])
    except ValueError:
        abort(400, description="Choose a role from the list.")


@bp.get("/<id:user_id>/reactivate")
@require(Action.MANAGE_PEOPLE)
def confirm_reactivate(user_id: int) -> str:
    person = _account_or_404(user_id)
    return render_template(
        "people/confirm_reactivate.html",
        person=person,
        back=_person_page(person),
        new_role=_role_to_come_back_as(request.args),
    )


@bp.post("/<id:user_id>/reactivate")
@require(Action.MANAGE_PEOPLE)
def reactivate(user_id: int) -> Response:
    role = _role_to_come_back_as(request.form)
    return _access_changed(
        user_id,
        lambda person: accounts.reactivate_account(person, by=signed_in_account(), role=role),
        "{name}'s account is back: they have been emailed a link to choose a new password and PIN.",
        done_already=lambda person: accounts.reactivated_already(
            person, by=signed_in_account(), role=role
        ),
        said_already="{name}'s account is already back: they were emailed a link a moment ago.",
    )
