"""Journal pages: observations and their photos, children's journals, review, policies.

Views parse the request, call an operation and redirect (or render); the request commits
once (``app.request_transaction``), and a refusal shows the form again with a 4xx, which
keeps nothing, so nothing is saved half-way.
Anything a person may not see is a 404, so a guessed id says nothing about what exists.
Child-centred pages (``/journal/children/<child>/...``) show the setting's group-name
policy; staff's own pages (``/journal/observations/...``) show every name.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import lru_cache

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
from markupsafe import Markup
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from app import clock
from app.access.policy import Action, NotAllowed, can, check
from app.access.scopes import visible_child
from app.auth import audit
from app.auth.access import current_user, require, signed_in_account
from app.auth.viewer import Viewer
from app.config import MAX_REQUEST_MB
from app.errors import conflict, conflict_if_refused
from app.journal import access_log as journal_access_log
from app.journal import (
    comments,
    listing,
    notifications,
    observations,
    photos,
    publishing,
    revisions,
    storage,
    unsaved,
)
from app.journal import policies as journal_policies
from app.journal.closing import closed_to_staff
from app.journal.content_rules import highlight
from app.journal.forms import (
    ActionForm,
    CommentForm,
    DeleteForm,
    EmailChoiceForm,
    HomeObservationForm,
    JournalFilterForm,
    ListFilterForm,
    ObservationForm,
    PageForm,
    PeopleInPhotoForm,
    PhotoForm,
    PoliciesForm,
    PublishForm,
    ReviewForm,
)
from app.journal.journal_page import OpenedJournalPage, open_journal_page
from app.journal.listing import Filters
from app.journal.media import MAX_UPLOAD_BYTES, CheckedUpload, MediaRejected, check_upload
from app.journal.models import (
    Comment,
    EmailChoice,
    JournalView,
    Observation,
    ObservationStatus,
    Photo,
    PhotoState,
)
from app.journal.photo_processing import make_ready
from app.journal.publishing import ContentCheck, CorrectionNeedsConfirmation, Published
from app.journal.viewing import (
    AnyObservation,
    Cards,
    ChildView,
    ShownObservation,
    ShownPhoto,
    as_json,
    child_view,
    comments_in_full,
    journal_page_cards,
    show_in_full,
)
from app.kept import Kept
from app.people import staff
from app.people.models import Child
from app.request_transaction import commit_despite_refusal, undone_if_refused
from app.responsible_use.operations import rules as responsible_use_rules
from app.site_frame import site_frame_key
from app.validation import FieldErrors, InvalidInput, field_errors
from tenants.binding import current_setting

bp = Blueprint("journal", __name__, url_prefix="/journal", template_folder="templates")

INVALID = 422  # a form that cannot be used as sent
Page = str | tuple[str, int] | Response

PHOTO_CACHE = "private, max-age=600"


# ---------------------------------------------------------------- finding things


def _child_or_404(child_id: int) -> Child:
    child = visible_child(current_user, child_id)
    if child is None:
        abort(404)
    return child


def _observation_or_404(observation_id: int) -> Observation:
    observation = listing.observation_for_staff(current_user, observation_id)
    if observation is None:
        abort(404)
    return observation


def _in_journal_or_404(child: Child, observation_id: int) -> Observation:
    observation = listing.observation_in_journal(current_user, child, observation_id)
    if observation is None:
        abort(404)
    return observation


def _editable_or_409(observation: Observation) -> None:
    # Staff reach observations they may not change (another author's, one waiting for
    # review): a conflict of state or authorship, said in words, not a bare 403.
    with conflict_if_refused(NotAllowed):
        check(current_user, Action.EDIT_OBSERVATION, observation)


def _check_action(form: ActionForm | None = None) -> None:
    (form or ActionForm()).validate_on_submit() or abort(400)


def _success(message: str, url: str) -> Response:
    """Say what was done, and go on to ``url`` (303: the browser asks for it with a GET)."""
    flash(message, "success")
    return redirect(url, code=303)


def _chosen_files(field_data: object) -> list[FileStorage]:
    # An empty file input still sends a part, with no file name.
    files = field_data if isinstance(field_data, list) else [field_data]
    return [file for file in files if isinstance(file, FileStorage) and file.filename]


def _checked(uploads: list[FileStorage]) -> list[CheckedUpload]:
    """The uploaded photos, each checked from its header and structure (decoded and
    re-encoded after the request: ``photo_processing``); ``MediaRejected`` says what is
    wrong with the first that cannot be used (then none is kept)."""
    return [check_upload(upload.stream, max_bytes=MAX_UPLOAD_BYTES) for upload in uploads]


@dataclass(frozen=True)
class _Refusal:
    """Why a form was not saved: what to show beside its fields, and the status to answer."""

    errors: FieldErrors
    status: int = INVALID
    check: ContentCheck | None = None  # a correction's findings, to be seen before saving


def _refusal(error: MediaRejected | InvalidInput, default_field: str) -> _Refusal:
    if isinstance(error, MediaRejected):
        return _Refusal({"photo": [error.message]}, error.status)
    if isinstance(error, CorrectionNeedsConfirmation):  # not an error: the author looks first
        return _Refusal({}, 200, error.checked)
    status = 409 if isinstance(error, observations.ChangedSinceOpened) else INVALID
    return _Refusal(field_errors(error, default_field), status)


def _saved_with_photos(
    form: ObservationForm | HomeObservationForm, save: Callable[[], Observation]
) -> Observation | _Refusal:
    """Check the form and the photos it may carry, then ``save`` the observation and add the
    photos to it; what was refused comes back as a ``_Refusal`` (nothing is kept)."""
    if not form.validate():
        return _Refusal(_photos_not_kept(form))  # the form's own errors show beside its fields
    in_photo = form.in_photo.data or [] if isinstance(form, ObservationForm) else []
    try:
        images = _checked(_chosen_files(form.photo.data))
        with undone_if_refused():  # the form is shown again beside the observation as it was
            observation = save()
            photos.add_photos(
                observation,
                images,
                caption=form.caption.data or "",
                in_photo=in_photo,
                by=signed_in_account(),
                confirmed=isinstance(form, ObservationForm) and form.confirmed.data == "yes",
            )
    except (MediaRejected, InvalidInput) as error:
        refusal = _refusal(error, "text")
        if isinstance(error, MediaRejected) or refusal.check:  # both already say so
            return refusal
        return _Refusal({**_photos_not_kept(form), **refusal.errors}, refusal.status)
    return observation


def _photos_not_kept(form: ObservationForm | HomeObservationForm) -> FieldErrors:
    """Browsers never fill a file input again: a form shown back after photos were chosen
    says so beside the photo field, rather than dropping them without a word."""
    if not _chosen_files(form.photo.data):
        return {}
    return {"photo": ["Choose the photos again: they were not kept."]}


def _observation_url(observation: Observation) -> str:
    return url_for("journal.observation", observation_id=observation.id)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    # The whole request was over MAX_CONTENT_LENGTH: refused before the form was read.
    return render_template(
        "journal/too_large.html",
        limit_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
        request_limit_mb=MAX_REQUEST_MB,
    ), 413


# ---------------------------------------------------------------- lists


@bp.get("/")
@require(Action.SEE_JOURNALS)
def index() -> Page:
    """Staff: every observation they may see, filtered; a parent: their children's journals."""
    if can(current_user, Action.READ_AS_FAMILY):
        return render_template(
            "journal/parent_index.html", children=listing.journal_children(current_user)
        )
    form = ListFilterForm(request.args)
    form.offer(
        [(child.id, child.full_name) for child in listing.journal_children(current_user)],
        [(user.id, user.full_name) for user in listing.authors()],
        listing.rooms(),
        [(user.id, user.full_name) for user in staff.key_people()],
    )
    if not form.validate():
        return render_template("journal/index.html", form=form, page=None), 400
    page = listing.observation_list(current_user, form.filters(), form.page.data or 1)
    return render_template("journal/index.html", form=form, page=page)


@bp.get("/review")
@require(Action.REVIEW_OBSERVATIONS)
def review_queue() -> str:
    held, home = publishing.review_queue(current_user)
    checks = {observation.id: publishing.check_content(observation) for observation in held}
    return render_template(
        "journal/review.html",
        held=[show_in_full(observation) for observation in held],
        home=[show_in_full(observation) for observation in home],
        checks=checks,
        highlight=highlight,
        form=ReviewForm(formdata=None),
    )


# ---------------------------------------------------------------- writing observations


def _observation_form(observation: Observation | None = None, **data: object) -> ObservationForm:
    form = ObservationForm(**data)
    children = observations.children_to_offer(current_user, observation)
    form.offer_children([(child.id, _tag_label(child)) for child in children])
    return form


def _tag_label(child: Child) -> str:
    consent = "" if child.photo_consent else " (no photo consent)"
    return f"{child.full_name}{consent}"


def _form_page(
    form: ObservationForm,
    errors: FieldErrors,
    observation: Observation | None = None,
    check: ContentCheck | None = None,
) -> str:
    return render_template(
        "journal/observation_form.html",
        form=form,
        errors=errors,
        observation=observation,
        check=check,
        highlight=highlight,
    )


def _unsaved_or(defaults: dict[str, object]) -> dict[str, object]:
    """The form's data: what the author typed before an idle sign-out, if kept, else
    ``defaults``."""
    kept = unsaved.take(current_user, request.path)
    if kept is None:
        return {"formdata": None, **defaults}
    flash(
        "You were signed out while writing: what you had typed is back. "
        "Save it to keep it (photos need adding again).",
        "warning",
    )
    return {"formdata": kept}


@bp.get("/observations/new")
@require(Action.WRITE_OBSERVATIONS)
def new_observation() -> str:
    chosen = request.args.get("child", type=int)
    data = _unsaved_or({"observed_on": clock.today(), "child_ids": [chosen] if chosen else []})
    return _form_page(_observation_form(**data), {})


@bp.post("/observations/unsaved")
@require(Action.WRITE_OBSERVATIONS)
def keep_unsaved() -> tuple[str, int]:
    """What was typed into an observation form, sent by the page just before an idle
    sign-out (see ``app.journal.unsaved``)."""
    _check_action()
    page = request.args.get("page", "")
    if not page.startswith("/journal/observations/"):
        abort(400)
    return "", 204 if unsaved.keep(current_user, page, request.form) else 413


@bp.post("/observations/new")
@require(Action.WRITE_OBSERVATIONS)
def create_observation() -> Page:
    form = _observation_form()
    if form.validate() and (
        sent_before := observations.created_a_moment_ago(form.details(), by=signed_in_account())
    ):
        return _success("The observation is saved as a draft.", _observation_url(sent_before))
    saved = _saved_with_photos(
        form, lambda: observations.create_observation(form.details(), by=signed_in_account())
    )
    if isinstance(saved, _Refusal):
        return _form_page(form, saved.errors), saved.status
    _warn_about_consent(saved)
    return _success("The observation is saved as a draft.", _observation_url(saved))


def _warn_about_consent(observation: Observation) -> None:
    missing = photos.children_without_consent_in_photos(observation)
    if missing:
        who = ", ".join(child.full_name for child in missing)
        flash(
            f"No photo consent for {who}: photos showing them will not appear in other "
            "families' journals.",
            "warning",
        )


@bp.get("/observations/<id:observation_id>")
@require(Action.WRITE_OBSERVATIONS)
def observation(observation_id: int) -> str:
    shown = _observation_or_404(observation_id)
    journal_access_log.record_view(
        current_user, shown.children, JournalView.OBSERVATION, shown, only_write=True
    )
    return _observation_page(shown)


def _observation_page(shown: Observation, **extra: object) -> str:
    in_review = shown.status is ObservationStatus.IN_REVIEW
    context: dict[str, object] = {
        "item": show_in_full(shown),
        "comments": {
            child_id: comments_in_full(thread)
            for child_id, thread in comments.comments_by_child(shown).items()
        },
        "children_by_id": {child.id: child for child in shown.children},
        "no_consent": photos.children_without_consent_in_photos(shown),
        "revisions": revisions.revisions(shown),
        "audiences": photos.photo_audiences(shown),
        "people_forms": {
            photo.id: _people_in_photo_form(shown, photo, formdata=None) for photo in shown.photos
        },
        "check": publishing.check_content(shown) if in_review else None,
        "highlight": highlight,
        "photo_form": _photo_form(shown, formdata=None),
        "photos_closed": closed_to_staff(shown),
        "unreadable_photos": shown.unreadable_photos,
        "review_form": ReviewForm(formdata=None),
        "photo_errors": {},
        "photo_check": None,  # photos' findings, to be seen before they are added
    }
    context.update(extra)
    return render_template("journal/observation.html", **context)


@bp.get("/observations/<id:observation_id>/edit")
@require(Action.WRITE_OBSERVATIONS)
def edit_observation(observation_id: int) -> str:
    shown = _observation_or_404(observation_id)
    _editable_or_409(shown)
    opened = {"opened_version": observations.edit_version(shown)}
    data = _unsaved_or({"obj": shown, "child_ids": sorted(shown.child_ids), **opened})
    return _form_page(_observation_form(shown, **data), {}, shown)


@bp.post("/observations/<id:observation_id>/edit")
@require(Action.WRITE_OBSERVATIONS)
def update_observation(observation_id: int) -> Page:
    shown = _observation_or_404(observation_id)
    _editable_or_409(shown)
    form = _observation_form(shown)

    def save() -> Observation:
        observations.update_observation(
            shown,
            form.details(),
            by=signed_in_account(),
            opened_version=form.opened_version.data or None,
            confirmed=form.confirmed.data == "yes",
        )
        return shown

    saved = _saved_with_photos(form, save)
    if isinstance(saved, _Refusal):
        # Shown again, the form is opened on the observation as it is now: saving it again
        # replaces the other change knowingly.
        form.opened_version.data = observations.edit_version(shown)
        return _form_page(form, saved.errors, shown, saved.check), saved.status
    _warn_about_consent(shown)
    _say_if_held(shown, "The correction")
    return _success("The observation is saved.", _observation_url(shown))


def _say_if_held(shown: Observation, what: str) -> None:
    """A correction of a published observation (``what``) that needs a manager's approval
    (``publishing.hold_if_flagged``) took it from families until then: say so."""
    if shown.status is ObservationStatus.IN_REVIEW:
        flash(
            f"{what} matches the setting's content rules: families will see the "
            "observation again once a manager approves it.",
            "warning",
        )


@bp.post("/observations/<id:observation_id>/withdraw")
@require(Action.WRITE_OBSERVATIONS)
def withdraw_observation(observation_id: int) -> Response:
    _check_action()
    shown = _observation_or_404(observation_id)
    if observations.withdrawn_already(shown, signed_in_account()):
        return _success("The observation is already withdrawn.", _observation_url(shown))
    with conflict_if_refused(NotAllowed):
        observations.withdraw(shown, by=signed_in_account())
    return _success(
        "The observation is withdrawn: families no longer see it. It is a draft again.",
        _observation_url(shown),
    )


def _delete_page(shown: Observation, form: DeleteForm, errors: FieldErrors) -> str:
    return render_template(
        "journal/delete.html",
        item=show_in_full(shown),
        form=form,
        errors=errors,
        needs_reason=observations.needs_reason_to_delete(shown),
    )


@bp.get("/observations/<id:observation_id>/delete")
@require(Action.WRITE_OBSERVATIONS)
def confirm_delete_observation(observation_id: int) -> str:
    shown = _observation_or_404(observation_id)
    with conflict_if_refused(NotAllowed):
        check(current_user, Action.DELETE_OBSERVATION, shown)
    return _delete_page(shown, DeleteForm(formdata=None), {})


@bp.post("/observations/<id:observation_id>/delete")
@require(Action.WRITE_OBSERVATIONS)
def delete_observation(observation_id: int) -> Page:
    form = DeleteForm()
    deleted = audit.done_a_moment_ago(
        "observation.deleted", actor=signed_in_account(), observation_id=observation_id
    )
    if deleted and form.validate():  # a second tap: the first deleted it
        return _success("The observation is deleted.", url_for("journal.index"))
    shown = _observation_or_404(observation_id)
    if form.validate():
        try:
            observations.delete_observation(
                shown, by=signed_in_account(), reason=form.reason.data or ""
            )
        except NotAllowed as refused:
            conflict(refused)
        except InvalidInput as error:
            return _delete_page(shown, form, field_errors(error, "reason")), INVALID
        else:
            return _success("The observation is deleted.", url_for("journal.index"))
    return _delete_page(shown, form, {}), INVALID


# ---------------------------------------------------------------- photos


def _photo_form(observation: Observation, **data: object) -> PhotoForm:
    # Nobody is ticked until the author says who can be seen: "everyone" by default would
    # keep a photo of one child from every family whose child lacks photo consent.
    form = PhotoForm(**data)
    form.offer_children([(child.id, _tag_label(child)) for child in observation.children])
    return form


def _people_in_photo_form(
    observation: Observation, photo: Photo, **data: object
) -> PeopleInPhotoForm:
    form = PeopleInPhotoForm(prefix=f"photo-{photo.id}", **data)
    form.offer_children([(child.id, _tag_label(child)) for child in observation.children])
    if data.get("formdata", True) is None:
        form.in_photo.data = sorted(photo.child_ids)
    return form


@bp.post("/observations/<id:observation_id>/photos")
@require(Action.WRITE_OBSERVATIONS)
def add_photo(observation_id: int) -> Page:
    shown = _observation_or_404(observation_id)
    _editable_or_409(shown)
    with conflict_if_refused(NotAllowed):  # before the uploads are read
        photos.refuse_if_closed(shown)
    form = _photo_form(shown)
    refusal = _Refusal({})
    if form.validate():
        uploads = _chosen_files(form.photo.data)
        try:
            if not uploads:
                raise InvalidInput("Choose a photo or take one with the camera.")
            images = _checked(uploads)
            with undone_if_refused():  # the page shows the observation without the photos
                photos.add_photos(
                    shown,
                    images,
                    caption=form.caption.data or "",
                    in_photo=form.in_photo.data or [],
                    by=signed_in_account(),
                    confirmed=form.confirmed.data == "yes",
                )
        except (MediaRejected, InvalidInput) as error:
            refusal = _refusal(error, "photo")
        else:
            _warn_about_consent(shown)
            _say_if_held(shown, "With the photos, it")
            added = "The photo is" if len(uploads) == 1 else f"{len(uploads)} photos are"
            return _success(f"{added} added.", _observation_url(shown))
    return _observation_page(
        shown, photo_form=form, photo_errors=refusal.errors, photo_check=refusal.check
    ), refusal.status


@bp.post("/observations/<id:observation_id>/photos/<id:photo_id>/people")
@require(Action.WRITE_OBSERVATIONS)
def set_people_in_photo(observation_id: int, photo_id: int) -> Page:
    shown = _observation_or_404(observation_id)
    _editable_or_409(shown)
    photo = photos.photo_of(shown, photo_id) or abort(404)
    form = _people_in_photo_form(shown, photo)
    if not form.validate():
        forms = {p.id: _people_in_photo_form(shown, p, formdata=None) for p in shown.photos}
        forms[photo_id] = form
        return _observation_page(shown, people_forms=forms), INVALID
    with conflict_if_refused(NotAllowed):
        photos.set_people_in_photo(photo, shown, form.in_photo.data or [], by=signed_in_account())
    _warn_about_consent(shown)
    return _success("Who is in the photo is saved.", _observation_url(shown))


@bp.post("/observations/<id:observation_id>/photos/<id:photo_id>/remove")
@require(Action.WRITE_OBSERVATIONS)
def remove_photo(observation_id: int, photo_id: int) -> Response:
    _check_action()
    shown = _observation_or_404(observation_id)
    photo = photos.photo_of(shown, photo_id, unreadable_too=True)
    if photo is None and photos.removed_a_moment_ago(
        shown.id, photo_id, by=signed_in_account()
    ):  # a second tap: the first removed it
        return _success("The photo is removed.", _observation_url(shown))
    with conflict_if_refused(NotAllowed):
        photos.remove_photo(photo or abort(404), shown, by=signed_in_account())
    return _success("The photo is removed.", _observation_url(shown))


def _send_photo(photo: Photo, size: str, download_name: str) -> Response:
    # A photo still waiting for its worker is made now: never the uploaded bytes.
    if photo.state is PhotoState.WAITING:
        photo = make_ready(photo.id) or abort(404)
        # Found unreadable just now: that outcome (and the deletion of its bytes) is the
        # change to keep, although the answer is a 404.
        commit_despite_refusal()
    if photo.state is not PhotoState.READY:
        abort(404)  # it could not be read: its key person is told on the observation
    name = photo.thumbnail_name if size == "thumb" else photo.file_name
    try:
        path = storage.path_of(name)
    except storage.MediaMissing:
        abort(404)
    response = send_file(
        path, mimetype="image/jpeg", download_name=download_name, conditional=True, etag=True
    )
    response.headers["Cache-Control"] = PHOTO_CACHE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _photo_page(shown: ShownPhoto, full_size: str, back: str) -> str:
    """The page a thumbnail opens: the full photo in the site's frame, its caption as the
    viewer's page shows it for alt text, and a way back (the bare image, opened by itself,
    had neither, and the browser's own image viewer is refused by our CSP)."""
    return render_template("journal/photo.html", shown=shown, full_size=full_size, back=back)


def _staff_photo_or_404(photo_id: int) -> tuple[Observation, ShownPhoto]:
    """A photo of an observation staff may open, as the observation's page shows it."""
    observation_id = photos.photo_observation_id(photo_id) or abort(404)
    shown = _observation_or_404(observation_id)
    photo = photos.photo_of(shown, photo_id) or abort(404)
    return shown, show_in_full(shown).photos[shown.photos.index(photo)]


@bp.get("/photos/<id:photo_id>")
@require(Action.WRITE_OBSERVATIONS)
def photo_page(photo_id: int) -> str:
    observation, shown = _staff_photo_or_404(photo_id)
    return _photo_page(
        shown,
        url_for("journal.photo", photo_id=photo_id, size="full"),
        _observation_url(observation),
    )


@bp.get("/photos/<id:photo_id>/<any(full, thumb):size>")
@require(Action.WRITE_OBSERVATIONS)
def photo(photo_id: int, size: str) -> Response:
    _, shown = _staff_photo_or_404(photo_id)
    return _send_photo(shown.photo, size, shown.file_name)


# ---------------------------------------------------------------- publishing and review


@bp.post("/observations/<id:observation_id>/publish")
@require(Action.WRITE_OBSERVATIONS)
def publish_observation(observation_id: int) -> Page:
    form = PublishForm()
    _check_action(form)
    shown = _observation_or_404(observation_id)
    if publishing.published_already(shown, signed_in_account()):
        return _success("The observation is already published.", _observation_url(shown))
    with conflict_if_refused(NotAllowed):
        outcome, checked = publishing.publish(
            shown, by=signed_in_account(), confirmed=form.confirmed.data == "yes"
        )
    if outcome is Published.NEEDS_CONFIRMATION:  # nothing was written: the author confirms
        return render_template(
            "journal/findings.html",
            observation=shown,
            check=checked,
            highlight=highlight,
        )
    if outcome is Published.HELD:
        flash(
            "Some of this observation needs a manager's approval (see below): "
            "it will be published once a manager approves it.",
            "warning",
        )
    else:
        flash("The observation is published.", "success")
    return redirect(_observation_url(shown), code=303)


@bp.post("/observations/<id:observation_id>/approve")
@require(Action.REVIEW_OBSERVATIONS)
def approve_observation(observation_id: int) -> Response:
    _check_action()
    shown = _observation_or_404(observation_id)
    if publishing.approved_already(shown, signed_in_account()):
        return _success("The observation is already published.", url_for("journal.review_queue"))
    with conflict_if_refused(NotAllowed):
        publishing.approve(shown, by=signed_in_account())
    return _success("The observation is published.", url_for("journal.review_queue"))


@bp.post("/observations/<id:observation_id>/send-back")
@require(Action.REVIEW_OBSERVATIONS)
def send_back_observation(observation_id: int) -> Page:
    form = ReviewForm()
    shown = _observation_or_404(observation_id)
    if publishing.sent_back_already(shown, signed_in_account()) and form.validate():
        return _success("The observation is already sent back.", url_for("journal.review_queue"))
    if not form.validate():
        return _observation_page(shown, review_form=form), INVALID
    try:
        publishing.send_back(shown, by=signed_in_account(), note=form.note.data or "")
    except NotAllowed as refused:
        conflict(refused)
    except InvalidInput as error:  # the note was checked before anything was written
        form.note.errors = [str(error)]
        return _observation_page(shown, review_form=form), INVALID
    return _success("The observation is sent back.", url_for("journal.review_queue"))


# ---------------------------------------------------------------- comments


@bp.post("/comments/<id:comment_id>/hide")
@require(Action.HIDE_COMMENTS)
def hide_comment(comment_id: int) -> Response:
    _check_action()
    comment = comments.comment_for_staff(current_user, comment_id) or abort(404)
    comments.hide_comment(comment, by=signed_in_account())
    return _success(
        "The comment is hidden from the family.",
        url_for("journal.observation", observation_id=comment.observation_id),
    )


@bp.post("/children/<id:child_id>/observations/<id:observation_id>/comments")
@require(Action.SEE_JOURNALS)
def add_comment(child_id: int, observation_id: int) -> Page:
    child = _child_or_404(child_id)
    shown = _in_journal_or_404(child, observation_id)
    with conflict_if_refused(NotAllowed):  # whatever was written, it has nowhere to go
        comments.refuse_if_closed(shown, child)
    form = CommentForm()
    if form.validate():
        try:
            comments.add_comment(shown, child, form.body.data or "", by=signed_in_account())
        except NotAllowed as refused:
            conflict(refused)
        except InvalidInput as error:
            form.body.errors = [str(error)]
        else:
            return _success(
                "Your comment is added.",
                url_for("journal.child_observation", child_id=child.id, observation_id=shown.id)
                + "#comments",
            )
    return _child_observation_page(child, shown, form), INVALID


def _own_comment_or_404(
    child_id: int, observation_id: int, comment_id: int
) -> tuple[Child, Observation, Comment]:
    """The signed-in person's own comment in a child's view they may open, or 404."""
    child = _child_or_404(child_id)
    shown = _in_journal_or_404(child, observation_id)
    comment = comments.comment_in_view(child, shown, comment_id)
    if comment is None or comment.author_id != current_user.id:
        abort(404)
    return child, shown, comment


def _comment_url(child: Child, observation: Observation) -> str:
    return (
        url_for("journal.child_observation", child_id=child.id, observation_id=observation.id)
        + "#comments"
    )


COMMENT_PATH = "/children/<id:child_id>/observations/<id:observation_id>/comments/<id:comment_id>"


def _comment_form_page(
    child_id: int, observation_id: int, comment_id: int, form: CommentForm
) -> str:
    child, shown, comment = _own_comment_or_404(child_id, observation_id, comment_id)
    return render_template(
        "journal/comment_edit.html", child=child, observation=shown, comment=comment, form=form
    )


@bp.get(f"{COMMENT_PATH}/edit")
@require(Action.SEE_JOURNALS)
def edit_comment(child_id: int, observation_id: int, comment_id: int) -> str:
    _, _, comment = _own_comment_or_404(child_id, observation_id, comment_id)
    with conflict_if_refused(NotAllowed):
        comments.refuse_to_change(comment, by=signed_in_account())
    form = CommentForm(formdata=None, body=comment.body)
    return _comment_form_page(child_id, observation_id, comment_id, form)


@bp.post(f"{COMMENT_PATH}/edit")
@require(Action.SEE_JOURNALS)
def update_comment(child_id: int, observation_id: int, comment_id: int) -> Page:
    child, shown, comment = _own_comment_or_404(child_id, observation_id, comment_id)
    form = CommentForm()
    if form.validate():
        try:
            comments.edit_comment(comment, form.body.data or "", by=signed_in_account())
        except NotAllowed as refused:
            conflict(refused)
        except InvalidInput as error:
            form.body.errors = [str(error)]
        else:
            return _success("Your comment is changed.", _comment_url(child, shown))
    return _comment_form_page(child_id, observation_id, comment_id, form), INVALID


@bp.post(f"{COMMENT_PATH}/delete")
@require(Action.SEE_JOURNALS)
def delete_comment(child_id: int, observation_id: int, comment_id: int) -> Response:
    _check_action()
    if audit.done_a_moment_ago("comment.deleted", actor=signed_in_account(), comment_id=comment_id):
        child = _child_or_404(child_id)  # a second tap: the first deleted it
        return _success(
            "Your comment is deleted.",
            _comment_url(child, _in_journal_or_404(child, observation_id)),
        )
    child, shown, comment = _own_comment_or_404(child_id, observation_id, comment_id)
    with conflict_if_refused(NotAllowed):
        comments.delete_comment(comment, by=signed_in_account())
    return _success("Your comment is deleted.", _comment_url(child, shown))


# ---------------------------------------------------------------- a child's journal


@bp.get("/children/<id:child_id>")
@require(Action.SEE_JOURNALS)
def child_journal(child_id: int) -> Page:
    viewer: Viewer = current_user._get_current_object()  # once, not through the proxy each time
    query = _journal_query(tuple(request.args.items(multi=True)))
    # A search is matched on what the view shows (viewing.journal_page_cards): no rows read.
    # The statement that opens the journal records the view (app.journal.journal_page).
    reads_rows = query.valid and not query.filters.text
    filters = query.filters if reads_rows else None
    opened = open_journal_page(viewer, child_id, filters, query.number) or abort(404)
    if not query.valid:
        body = _journal_body(viewer, opened, query, with_page=False)
        return _journal_page(viewer, opened, body), 400
    # A search, or a page past the last (which counts the journal to say so): made each time.
    if not reads_rows or opened.past_the_last:
        return _journal_page(viewer, opened, _journal_body(viewer, opened, query))
    body_key = _journal_body_key(viewer, opened, query)

    def page() -> str:
        body = KEPT_JOURNAL_BODIES.get(body_key, lambda: _journal_body(viewer, opened, query))
        return _journal_page(viewer, opened, body)

    frame_key = site_frame_key()
    return page() if frame_key is None else KEPT_JOURNAL_PAGES.get((body_key, frame_key), page)


@dataclass(frozen=True)
class _JournalQuery:
    """A child's journal's query string as the page reads it."""

    args: tuple[tuple[str, str], ...]
    valid: bool
    filters: Filters
    number: int
    fields: Markup  # the filter fields, with their errors


@lru_cache(maxsize=256)
def _journal_query(args: tuple[tuple[str, str], ...]) -> _JournalQuery:
    """The journal's filters and page for this query string, and its filter fields: the
    same for every child, page and viewer, and WTForms' form and widgets cost a tenth of
    the page's CPU, so they are made once for each query string (most often the empty
    one)."""
    form = JournalFilterForm(MultiDict(args))
    valid = form.validate()
    fields = render_template("journal/_journal_filter_fields.html", form=form)
    return _JournalQuery(
        args=args,
        valid=valid,
        filters=form.filters() if valid else Filters(),
        number=(form.page.data or 1) if valid else 1,
        fields=Markup(fields),  # noqa: S704 (the template escapes what it is given)
    )


def _journal_name(viewer: Viewer, child: Child) -> str:
    return child.known_as if can(viewer, Action.READ_AS_FAMILY) else child.full_name


def _journal_page(viewer: Viewer, opened: OpenedJournalPage, body: Markup) -> str:
    name = _journal_name(viewer, opened.child)
    return render_template("journal/child_journal.html", name=name, body=body)


def _journal_body(
    viewer: Viewer, opened: OpenedJournalPage, query: _JournalQuery, *, with_page: bool = True
) -> Markup:
    """Everything below the site's header (see ``_child_journal_body.html``)."""
    child, page, cards = opened.child, None, Markup()
    if with_page:
        view = child_view(viewer, child, opened.family, opened.everyone())
        page, shown = journal_page_cards(view, viewer, opened, query.filters, JOURNAL_CARDS)
        cards = Markup("\n").join(shown)
    body = render_template(
        "journal/_child_journal_body.html",
        child=child,
        name=_journal_name(viewer, child),
        filter_fields=query.fields,
        page=page,
        cards=cards,
    )
    return Markup(body)  # noqa: S704 (the template escapes what it is given)


def _journal_body_key(viewer: Viewer, opened: OpenedJournalPage, query: _JournalQuery) -> Hashable:
    """Everything a journal page's body is made from: what the page read (the child, the
    family, every child's name and consent, the observations), the viewer (whose role
    decides its links), the group-name policy, the sharing rule, the query string."""
    policies = (journal_policies.group_name_policy(), responsible_use_rules().sharing_rule)
    return (current_setting().id, viewer.id, viewer.role, policies, query.args, opened.key)


# A journal page's body, made once for everything it is made from (app.journal.journal_page):
# 256 bodies of 10-60 KB.
KEPT_JOURNAL_BODIES: Kept[Markup] = Kept(256)
# The whole page, header included, for a body and everything base.html reads around it
# (app.site_frame: the session's CSRF token among it, so a page is kept per session): a
# parent paging through a journal or coming back to it; 256 pages of 10-60 KB.
KEPT_JOURNAL_PAGES: Kept[str] = Kept(256)


def _journal_card(view: ChildView, item: ShownObservation) -> Markup:
    card = render_template("journal/_observation_card.html", item=item, child=view.child)
    return Markup(card)  # noqa: S704 (the template escapes what it is given)


# Made once for each observation as it is and each view of it (see Cards).
JOURNAL_CARDS = Cards(_journal_card)


def _child_observation_page(
    child: Child,
    shown: AnyObservation,
    comment_form: CommentForm | None = None,
    view: ChildView | None = None,
) -> str:
    view = view or child_view(current_user, child)
    shown_comments = comments.comments_in_view(
        shown, child, with_hidden=can(current_user, Action.HIDE_COMMENTS)
    )
    return render_template(
        "journal/child_observation.html",
        child=child,
        item=view.show(shown, shown_comments),
        view=view,
        comment_form=comment_form or CommentForm(formdata=None),
        comments_closed=comments.closed_to_comments(shown, child),
    )


@bp.get("/children/<id:child_id>/observations/<id:observation_id>")
@require(Action.SEE_JOURNALS)
def child_observation(child_id: int, observation_id: int) -> str:
    viewer: Viewer = current_user._get_current_object()  # once, not through the proxy each time
    # The child, the family, every child's name and the observation, and the view
    # recorded: one statement (none of it unless the observation is in this view).
    opened = open_journal_page(viewer, child_id, Filters(), observation_id=observation_id)
    [shown] = (opened or abort(404)).page().items
    child = opened.child
    view = child_view(viewer, child, opened.family, opened.everyone())
    return _child_observation_page(child, shown, view=view)


def _as_json(child: Child, shown: list[Observation]) -> list[dict[str, object]]:
    """Observations of ``child``'s journal as its JSON documents give them."""
    view = child_view(current_user, child)
    comments_by_observation = comments.family_comments(child, shown)

    def photo_url(photo: Photo, size: str) -> str:
        return url_for("journal.child_photo", child_id=child.id, photo_id=photo.id, size=size)

    return [
        as_json(view.show(observation, comments_by_observation[observation.id]), photo_url)
        for observation in shown
    ]


@bp.get("/children/<id:child_id>/observations/<id:observation_id>.json")
@require(Action.SEE_JOURNALS)
def child_observation_json(child_id: int, observation_id: int) -> dict[str, object]:
    child = _child_or_404(child_id)
    shown = _in_journal_or_404(child, observation_id)
    journal_access_log.record_view(
        current_user, [child], JournalView.OBSERVATION, shown, only_write=True
    )
    return _as_json(child, [shown])[0]


def _child_photo_or_404(child_id: int, photo_id: int) -> tuple[int, ShownPhoto]:
    """A photo in a child's view, with its observation's id: only of an observation in
    that journal, and only if every child seen in it is of this family or has photo
    consent."""
    child = _child_or_404(child_id)
    observation_id = photos.photo_observation_id(photo_id) or abort(404)
    shown = _in_journal_or_404(child, observation_id)
    item = child_view(current_user, child).show(shown)
    allowed = next((p for p in item.photos if p.photo.id == photo_id), None) or abort(404)
    return observation_id, allowed


@bp.get("/children/<id:child_id>/photos/<id:photo_id>")
@require(Action.SEE_JOURNALS)
def child_photo_page(child_id: int, photo_id: int) -> str:
    observation_id, shown = _child_photo_or_404(child_id, photo_id)
    return _photo_page(
        shown,
        url_for("journal.child_photo", child_id=child_id, photo_id=photo_id, size="full"),
        url_for("journal.child_observation", child_id=child_id, observation_id=observation_id),
    )


@bp.get("/children/<id:child_id>/photos/<id:photo_id>/<any(full, thumb):size>")
@require(Action.SEE_JOURNALS)
def child_photo(child_id: int, photo_id: int, size: str) -> Response:
    _, shown = _child_photo_or_404(child_id, photo_id)
    return _send_photo(shown.photo, size, shown.file_name)


# ---------------------------------------------------------------- home observations


@bp.get("/children/<id:child_id>/home-observations/new")
@require(Action.SEND_HOME_OBSERVATIONS)
def new_home_observation(child_id: int) -> str:
    child = _child_or_404(child_id)
    if child.is_archived:  # the form could never be sent: say so before it is written
        abort(409, description=observations.no_home_observations(child))
    form = HomeObservationForm(formdata=None, observed_on=clock.today())
    return render_template("journal/home_observation_form.html", child=child, form=form, errors={})


@bp.post("/children/<id:child_id>/home-observations/new")
@require(Action.SEND_HOME_OBSERVATIONS)
def create_home_observation(child_id: int) -> Page:
    child = _child_or_404(child_id)
    form = HomeObservationForm()
    sent = (child, form.observed_on.data, form.text.data or "")
    if form.validate() and observations.home_sent_a_moment_ago(*sent, by=signed_in_account()):
        saved = None  # the same form sent twice: thanked once more, kept once
    else:
        saved = _saved_with_photos(
            form, lambda: observations.create_home_observation(*sent, by=signed_in_account())
        )
    if isinstance(saved, _Refusal):
        return render_template(
            "journal/home_observation_form.html", child=child, form=form, errors=saved.errors
        ), saved.status
    return _success(
        f"Thank you: staff will look at it and add it to {child.known_as}'s journal.",
        url_for("journal.child_journal", child_id=child.id),
    )


# ---------------------------------------------------------------- parents: emails


def _emails_page(form: EmailChoiceForm) -> str:
    return render_template("journal/emails.html", form=form)


@bp.get("/emails")
@require(Action.CHOOSE_JOURNAL_EMAILS)
def email_choice() -> str:
    choice = notifications.email_choice(current_user)
    return _emails_page(EmailChoiceForm(formdata=None, choice=choice.value))


@bp.post("/emails")
@require(Action.CHOOSE_JOURNAL_EMAILS)
def save_email_choice() -> Page:
    form = EmailChoiceForm()
    if not form.validate():
        return _emails_page(form), INVALID
    notifications.set_email_choice(signed_in_account(), EmailChoice(form.choice.data))
    return _success("Your choice is saved.", url_for("journal.email_choice"))


# ---------------------------------------------------------------- managers: log and policies


@bp.get("/children/<id:child_id>/access-log")
@require(Action.SEE_ACCESS_LOG)
def access_log(child_id: int) -> str:
    child = _child_or_404(child_id)
    form = PageForm(request.args)
    form.validate() or abort(400)
    page = journal_access_log.entries(child, form.page.data or 1)
    return render_template("journal/access_log.html", child=child, page=page)


def _policies_page(form: PoliciesForm, errors: FieldErrors) -> str:
    return render_template("journal/policies.html", form=form, errors=errors)


@bp.get("/policies")
@require(Action.MANAGE_SETTING)
def policies() -> str:
    form = PoliciesForm.showing(
        journal_policies.group_name_policy(), journal_policies.content_rules()
    )
    return _policies_page(form, {})


@bp.post("/policies")
@require(Action.MANAGE_SETTING)
def save_policies() -> Page:
    form = PoliciesForm()
    errors: FieldErrors = {}
    if form.validate():
        try:
            journal_policies.save_policies(
                form.group_name_policy(), form.rules(), by=signed_in_account()
            )
        except InvalidInput as error:
            errors = field_errors(error, "blocked_phrases")
        else:
            return _success("The journal's policies are saved.", url_for("journal.policies"))
    return _policies_page(form, errors), INVALID
