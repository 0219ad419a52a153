"""Retention pages for managers: the schedule, and the archive with purges and legal holds.

Views parse the form, call an operation, commit once and redirect; a refusal rolls
back and shows the form again with a 422.
"""

from __future__ import annotations

from typing import NoReturn

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from app import clock
from app.access.policy import Action
from app.access.scopes import visible_child
from app.auth.access import current_user, require, signed_in_account
from app.auth.models import Role, User
from app.errors import refuse
from app.extensions import db
from app.journal.masking import name_for_file
from app.journal.text import separated_by_spaces, term_key
from app.people.forms import ActionForm
from app.people.models import Child
from app.retention import archive as archived
from app.retention import audit_trail as trail
from app.retention import due, packs
from app.retention import subject_access as sar
from app.retention.forms import HoldForm, LiftForm, PurgeForm, ScheduleForm, TrailForm
from app.retention.ledger import PurgeReason, RecordType
from app.retention.models import LeavingPack
from app.retention.purge import parents_only_of, purge_accounts, purge_children
from app.retention.schedule import (
    RULE_BY_KEY,
    RULES,
    changed_periods,
    retention_schedule,
    save_retention_schedule,
    shortened,
)
from app.timezones import local_date
from app.validation import InvalidInput

bp = Blueprint("retention", __name__, url_prefix="/retention", template_folder="templates")

INVALID = 422
Page = str | tuple[str, int] | Response
KINDS = "<any(child, parent, staff):kind>"
SECTIONS = (
    (RecordType.CHILD, "Children who have left"),
    (RecordType.STAFF, "Staff who have left"),
    (RecordType.PARENT, "Parents and carers whose access has ended"),
)


# ---------------------------------------------------------------- the schedule


def _schedule_page(form: ScheduleForm) -> str:
    return render_template("retention/schedule.html", form=form, rules=RULES)


@bp.get("/")
@require(Action.MANAGE_RECORDS)
def schedule() -> str:
    return _schedule_page(ScheduleForm(formdata=None, data=retention_schedule()))


@bp.post("/")
@require(Action.MANAGE_RECORDS)
def save_schedule() -> Page:
    """Save the schedule; a shorter period first shows how many records it makes due
    tonight, and is saved when the manager confirms (the form again, with ``confirm``)."""
    form = ScheduleForm()
    if not form.validate():  # bounds too: every problem named at once
        return _schedule_page(form), INVALID
    changed = changed_periods(form.periods())
    shorter = shortened(changed)
    newly_due = due.newly_due({key: changed[key] for key in shorter})
    if shorter and form.confirm.data != "yes":
        return _confirm_page(form, shorter, newly_due)
    save_retention_schedule(changed, by=signed_in_account(), newly_due=newly_due)
    flash("The retention schedule is saved.", "success")
    return redirect(url_for("retention.schedule"), code=303)


def _confirm_page(
    form: ScheduleForm, shorter: dict[str, tuple[int, int]], newly_due: dict[str, int]
) -> str:
    changes = [(RULE_BY_KEY[key], old, new) for key, (old, new) in shorter.items()]
    return render_template(
        "retention/confirm_schedule.html",
        form=form,
        rules=RULES,
        changes=changes,
        newly_due=newly_due,
        total=sum(newly_due.values()),
    )


# ---------------------------------------------------------------- the archive


@bp.get("/archive")
@require(Action.MANAGE_RECORDS)
def archive() -> str:
    sections = [(kind, heading, archived.archived_people(kind)) for kind, heading in SECTIONS]
    return render_template("retention/archive.html", sections=sections, today=clock.today())


def _archived_or_refused(
    kind: str, person_id: int, *, acting: bool = True
) -> archived.ArchivedPerson:
    person = archived.archived_person(RecordType(kind), person_id)
    if person is None:
        _not_in_archive(RecordType(kind), person_id, acting=acting)
    return person


def _not_in_archive(record_type: RecordType, person_id: int, *, acting: bool) -> NoReturn:
    """An archive page, or a form of one left open, for someone not in the archive: purged
    since (410, saying when), or, for a form (``acting``), at the setting (back since: a
    404 saying so, as the archive has no page of anyone there); otherwise any unknown page
    (404). Each says what happened and leads back."""
    back = (url_for("retention.archive"), "Back to the archive")
    purge = archived.purge_of(record_type, person_id)
    if purge is not None:
        refuse(
            410,
            f"These records were purged on {local_date(purge.at)} {purge.reason.label}: "
            "there is nothing left to purge or hold.",
            way_on=back,
        )
    name = archived.name_outside_archive(record_type, person_id) if acting else None
    if name is not None:
        refuse(
            404,
            f"{name} is not in the archive: they are at the setting, so nothing was done.",
            way_on=back,
        )
    abort(404)


def _person_page(
    person: archived.ArchivedPerson,
    purge_form: PurgeForm | None = None,
    hold_form: HoldForm | None = None,
    lift_form: LiftForm | None = None,
    errors: dict[str, list[str]] | None = None,
) -> str:
    going_too = parents_only_of([person.id]) if person.record_type is RecordType.CHILD else []
    return render_template(
        "retention/person.html",
        person=person,
        parents_going_too=[db.session.get_one(User, parent).full_name for parent in going_too],
        purge_form=purge_form or PurgeForm(formdata=None),
        hold_form=hold_form or HoldForm(formdata=None),
        lift_form=lift_form or LiftForm(formdata=None),
        errors=errors or {},
    )


@bp.get(f"/archive/{KINDS}/<id:person_id>")
@require(Action.MANAGE_RECORDS)
def person(kind: str, person_id: int) -> str:
    return _person_page(_archived_or_refused(kind, person_id, acting=False))


# Letters an English keyboard lacks, as people type them instead (accents are folded by
# term_key already; these letters have no accent to drop).
_AS_TYPED = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "þ": "th", "æ": "ae", "œ": "oe"})


def _typing_key(name: str) -> str:
    key = term_key(name).translate(_AS_TYPED)
    # A name in a script written without spaces is typed without the one between its parts.
    return key if separated_by_spaces(key) else "".join(key.split())


def _same_name(typed: str, name: str) -> bool:
    """Whether ``typed`` is the name as people type it: any case, spacing, accents,
    apostrophe (a phone's curly one) and hyphen, as the name matcher compares names; a
    letter with a stroke as its plain letter; a name in a script without spaces, without
    them."""
    return _typing_key(typed) == _typing_key(name)


@bp.post(f"/archive/{KINDS}/<id:person_id>/purge")
@require(Action.MANAGE_RECORDS)
def purge(kind: str, person_id: int) -> Page:
    form = PurgeForm()
    shown = archived.archived_person(RecordType(kind), person_id)
    if shown is None:
        if form.validate() and archived.purged_a_moment_ago(RecordType(kind), person_id):
            # A second tap: the first purged them.
            flash("Their records are purged.", "success")
            return redirect(url_for("retention.archive"), code=303)
        _not_in_archive(RecordType(kind), person_id, acting=True)
    problem = None
    if not form.validate():
        problem = "Type their full name to confirm."
    elif not _same_name(form.confirm_name.data or "", shown.name):
        problem = f"That is not {shown.name}'s full name as written here: nothing was purged."
    elif shown.hold is not None:
        problem = "Their records are on legal hold: lift the hold before purging."
    elif shown.held_with is not None:
        problem = (
            f"{shown.held_with}'s records are on legal hold, and {shown.name}'s are kept "
            "with them: lift that hold before purging."
        )
    if problem is not None:
        return _person_page(shown, purge_form=form, errors={"confirm_name": [problem]}), INVALID
    if shown.record_type is RecordType.CHILD:
        purge_children([shown.id], by=signed_in_account(), reason=PurgeReason.MANAGER)
    else:
        purge_accounts(
            [shown.id], shown.record_type, by=signed_in_account(), reason=PurgeReason.MANAGER
        )
    # Not named: the message waits in the session store until the next page is shown.
    flash("Their records are purged.", "success")
    return redirect(url_for("retention.archive"), code=303)


@bp.post(f"/archive/{KINDS}/<id:person_id>/hold")
@require(Action.MANAGE_RECORDS)
def place_hold(kind: str, person_id: int) -> Page:
    shown = _archived_or_refused(kind, person_id)
    form = HoldForm()
    errors: dict[str, list[str]] = {}
    if form.validate():
        try:
            archived.place_hold(shown, form.reason.data or "", by=signed_in_account())
        except InvalidInput as error:
            errors = {"reason": [str(error)]}
        else:
            flash(f"{shown.name}'s records are on legal hold.", "success")
            return redirect(url_for("retention.person", kind=kind, person_id=person_id), code=303)
    return _person_page(shown, hold_form=form, errors=errors), INVALID


@bp.post(f"/archive/{KINDS}/<id:person_id>/lift")
@require(Action.MANAGE_RECORDS)
def lift_hold(kind: str, person_id: int) -> Page:
    shown = _archived_or_refused(kind, person_id)
    form = LiftForm()
    errors: dict[str, list[str]] = {}
    if form.validate():
        try:
            archived.lift_hold(shown, form.reason.data or "", by=signed_in_account())
        except InvalidInput as error:  # the reason beside its field; "not on hold" above
            errors = {"reason" if shown.hold else "hold": [str(error)]}
        else:
            flash(f"The hold on {shown.name}'s records is lifted.", "success")
            return redirect(url_for("retention.person", kind=kind, person_id=person_id), code=303)
    return _person_page(shown, lift_form=form, errors=errors), INVALID


# ---------------------------------------------------------------- the audit trail


@bp.get("/audit")
@require(Action.MANAGE_RECORDS)
def audit_trail() -> Page:
    form = TrailForm(request.args)
    form.offer(trail.trail_people(), trail.trail_children(), trail.trail_actions())
    if not form.validate():  # the filters again, each beside what is wrong with it
        return render_template("retention/audit_trail.html", form=form, page=None), 400
    page = trail.audit_trail(form.filters(), form.page.data or 1)
    return render_template("retention/audit_trail.html", form=form, page=page)


# ---------------------------------------------------------------- subject-access export


@bp.get("/subject-access")
@require(Action.MANAGE_RECORDS)
def subject_access() -> str:
    return render_template(
        "retention/subject_access.html",
        children=db.session.scalars(select(Child).order_by(Child.last_name, Child.first_name)),
        users=db.session.scalars(select(User).order_by(User.full_name)),
    )


def _subject_or_404(kind: str, person_id: int) -> Child | User:
    if kind == RecordType.CHILD:
        found: Child | User | None = db.session.get(Child, person_id)
    else:
        found = db.session.get(User, person_id)
        roles = (Role.PARENT,) if kind == RecordType.PARENT else (Role.MANAGER, Role.STAFF)
        if found is not None and found.role not in roles:
            found = None
    if found is None:
        abort(404)
    return found


@bp.post(f"/subject-access/{KINDS}/<id:person_id>")
@require(Action.MANAGE_RECORDS)
def export_subject(kind: str, person_id: int) -> Response:
    subject = _subject_or_404(kind, person_id)
    ActionForm().validate_on_submit() or abort(400)
    path = sar.export_subject(RecordType(kind), person_id, by=signed_in_account())
    # Named by the person (their id only when their name has no ASCII letter).
    named = name_for_file(subject.full_name) or f"{kind}-{person_id}"
    response = send_file(
        path,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"subject-access_{named}_{clock.today().isoformat()}.zip",
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.call_on_close(lambda: path.unlink(missing_ok=True))
    return response


# ---------------------------------------------------------------- leaving packs


def _journal_child_or_404(child_id: int) -> Child:
    """A child whose journal the signed-in person may open (the access policy's rule)."""
    return visible_child(current_user, child_id) or abort(404)


@bp.get("/children/<id:child_id>/leaving-pack")
@require(Action.GET_LEAVING_PACKS)
def leaving_packs(child_id: int) -> str:
    child = _journal_child_or_404(child_id)
    return render_template(
        "retention/leaving_packs.html",
        child=child,
        packs=packs.packs_of(current_user, child),
        is_downloadable=packs.is_downloadable,
        has_expired=packs.has_expired,
    )


@bp.post("/children/<id:child_id>/leaving-pack")
@require(Action.GET_LEAVING_PACKS)
def request_leaving_pack(child_id: int) -> Response:
    child = _journal_child_or_404(child_id)
    ActionForm().validate_on_submit() or abort(400)
    pack = packs.request_pack(child, by=signed_in_account())
    flash("The pack is being made: you will get an email when it is ready.", "success")
    return redirect(url_for("retention.leaving_pack", pack_id=pack.id), code=303)


def _pack_or_404(pack_id: int) -> LeavingPack:
    pack = packs.pack_for(current_user, pack_id)
    if pack is None:
        abort(404)
    return pack


@bp.get("/packs/<id:pack_id>")
@require(Action.GET_LEAVING_PACKS)
def leaving_pack(pack_id: int) -> str:
    pack = _pack_or_404(pack_id)
    child = _journal_child_or_404(pack.child_id)
    return render_template(
        "retention/leaving_pack.html",
        pack=pack,
        child=child,
        downloadable=packs.is_downloadable(pack),
        refreshes=packs.page_refreshes(pack),
    )


@bp.get("/packs/<id:pack_id>/journal.<any(pdf, zip, json):kind>")
@require(Action.GET_LEAVING_PACKS)
def download_pack(pack_id: int, kind: str) -> Response:
    pack = _pack_or_404(pack_id)
    child = _journal_child_or_404(pack.child_id)
    if packs.has_expired(pack):
        refuse(
            410,
            f"This leaving pack expired on {local_date(pack.expires_at)}: "
            "its files can no longer be downloaded.",
            way_on=(
                url_for("retention.leaving_packs", child_id=child.id),
                "Make a new leaving pack",
            ),
        )
    if not packs.is_downloadable(pack):
        abort(404)
    path = packs.pack_file(pack, kind)
    if not path.is_file():
        abort(404)
    packs.record_download(pack, kind, by=signed_in_account())
    response = send_file(
        path,
        mimetype=packs.FORMATS[kind],
        as_attachment=True,
        download_name=packs.download_name(pack, child, kind),
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
