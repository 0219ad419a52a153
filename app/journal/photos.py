"""An observation's photos: added, who is in them, removed; and which families see each."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import aliased

from app import clock
from app.access.policy import Action, NotAllowed, check
from app.auth import audit
from app.auth.models import User
from app.extensions import db
from app.journal import storage
from app.journal.closing import closed_to_staff
from app.journal.input_rules import clean_caption
from app.journal.media import CheckedUpload, ProcessedImage
from app.journal.models import Observation, ObservationKind, Photo, PhotoChild, PhotoState
from app.journal.names import setting_children
from app.journal.photo_processing import process_photo_task
from app.journal.publishing import hold_if_flagged
from app.journal.revisions import before_change, revised
from app.people.models import Child, ParentLink
from app.validation import InvalidField
from tenants.binding import current_setting
from workers.after_commit import send_task_after_commit


def add_photo(
    observation: Observation,
    image: ProcessedImage | CheckedUpload,
    *,
    caption: str = "",
    in_photo: Iterable[int] = (),
    by: User,
    confirmed: bool = False,
) -> Photo:
    """Add a photo to the observation: an upload checked in this request, kept aside
    until ``photo_processing`` makes its display image (the task sent at commit, or its
    first reader); or an image processed already (seeding, fixtures), stored as it is.

    ``in_photo`` are the tagged children who can be seen in it, as the author ticked them
    (nobody unless chosen): a child without photo consent keeps the photo out of other
    families' views.

    Added to a published observation, it is a correction families see at once: it meets
    the content rules as one does (``hold_if_flagged``; in warn mode, ``confirmed``).
    """
    if observation.kind is ObservationKind.STAFF:
        check(by, Action.EDIT_OBSERVATION, observation)
    else:
        check(by, Action.ADD_PHOTOS_FROM_HOME, observation)
    refuse_if_closed(observation)
    digest = image.digest if isinstance(image, CheckedUpload) else None
    if digest and (sent := added_a_moment_ago(observation, digest, by=by)) is not None:
        return sent
    before = before_change(observation)
    caption = clean_caption(caption)
    seen = _children_in_photo(observation, in_photo)
    photo = Photo(
        observation_id=observation.id,
        position=1 + max((p.position for p in observation.photos), default=0),
        caption=caption,
        created_at=clock.now(),
        added_by_id=by.id,
        upload_digest=digest,
        people=[PhotoChild(child_id=child_id) for child_id in sorted(seen)],
    )
    if isinstance(image, ProcessedImage):
        _store_processed(photo, image)
    else:
        _store_waiting(photo, image)
    observation.photos.append(photo)
    observation.updated_at = clock.now()
    db.session.flush()
    if photo.state is PhotoState.WAITING:
        send_task_after_commit(db.session(), process_photo_task, current_setting().slug, photo.id)
    revised(observation, before, by=by)
    hold_if_flagged(observation, by, confirmed=confirmed)
    return photo


def added_a_moment_ago(observation: Observation, digest: str, *, by: User) -> Photo | None:
    """The photo of these very bytes (``digest``) that ``by`` added to the observation
    within the sent-twice window: an upload tapped twice, or sent again after a slow
    answer, is that photo, not a second copy of it."""
    since = clock.sent_twice_since()
    return next(
        (
            photo
            for photo in observation.photos
            if photo.upload_digest == digest
            and photo.added_by_id == by.id
            and photo.created_at >= since
        ),
        None,
    )


def _store_processed(photo: Photo, image: ProcessedImage) -> None:
    photo.file_name, photo.thumbnail_name = storage.store_all(
        [image.data, image.thumbnail], image.extension
    )
    photo.width, photo.height, photo.size_bytes = image.width, image.height, len(image.data)
    photo.state = PhotoState.READY


def _store_waiting(photo: Photo, upload: CheckedUpload) -> None:
    """Keep the upload's bytes aside under the name its display image will have; its
    thumbnail's name is chosen now too, so the row names its files from the start."""
    photo.file_name, photo.thumbnail_name = storage.new_name("jpg"), storage.new_name("jpg")
    storage.store_waiting(photo.file_name, upload.data)
    # The upload's own size until the display image replaces it (nothing shows them).
    photo.width, photo.height, photo.size_bytes = upload.width, upload.height, len(upload.data)
    photo.state = PhotoState.WAITING


def refuse_if_closed(observation: Observation) -> None:
    """No photo joins, leaves or changes in a closed journal (``journal_closed``)."""
    if reason := closed_to_staff(observation):
        raise NotAllowed(reason)


def add_photos(
    observation: Observation,
    images: Iterable[ProcessedImage | CheckedUpload],
    *,
    caption: str = "",
    in_photo: Iterable[int] = (),
    by: User,
    confirmed: bool = False,
) -> list[Photo]:
    """Several photos with the same caption and the same children in them."""
    seen = list(in_photo)
    return [
        add_photo(observation, image, caption=caption, in_photo=seen, by=by, confirmed=confirmed)
        for image in images
    ]


def _children_in_photo(observation: Observation, in_photo: Iterable[int]) -> set[int]:
    seen = set(in_photo)
    if not seen <= observation.child_ids:
        raise InvalidField("in_photo", "Choose children this observation is about.")
    return seen


def set_people_in_photo(
    photo: Photo, observation: Observation, in_photo: Iterable[int], *, by: User
) -> None:
    """Record again who can be seen in a photo (which decides which families see it)."""
    check(by, Action.EDIT_OBSERVATION, observation)
    refuse_if_closed(observation)
    before = before_change(observation)
    seen = _children_in_photo(observation, in_photo)
    photo.people = [PhotoChild(child_id=child_id) for child_id in sorted(seen)]
    observation.updated_at = clock.now()
    db.session.flush()
    revised(observation, before, by=by)


def remove_photo(photo: Photo, observation: Observation, *, by: User) -> None:
    """Remove a photo (or the notice of one that could not be read); the audit log keeps
    who removed it, where a second tap of Remove finds it (``removed_a_moment_ago``)."""
    check(by, Action.EDIT_OBSERVATION, observation)
    photo_id = photo.id
    if photo.state is PhotoState.FAILED:
        # Only its notice goes: it has no files, and nobody but staff ever saw it listed.
        db.session.delete(photo)
        db.session.flush()
    else:
        _remove_with_files(photo, observation, by=by)
    audit.record("photo.removed", actor=by, observation_id=observation.id, photo_id=photo_id)


def _remove_with_files(photo: Photo, observation: Observation, *, by: User) -> None:
    refuse_if_closed(observation)
    before = before_change(observation)
    forget_files(photo)
    observation.photos.remove(photo)
    observation.updated_at = clock.now()
    db.session.flush()
    revised(observation, before, by=by)


def removed_a_moment_ago(observation_id: int, photo_id: int, *, by: User) -> bool:
    """Whether ``by`` removed this photo within the sent-twice window: their second tap
    of Remove is answered as the first was (to anyone else the photo is gone: a 404)."""
    return audit.done_a_moment_ago(
        "photo.removed", actor=by, observation_id=observation_id, photo_id=photo_id
    )


def forget_files(photo: Photo) -> None:
    """Delete the photo's files once the change commits: its display image and thumbnail,
    and the upload's bytes if it still waits. The display files are queued even then: a
    run of ``make_ready`` that holds the row now may yet write them (a file that is not
    there counts as deleted)."""
    storage.remove_after_commit(photo.file_name, photo.thumbnail_name)
    if photo.state is PhotoState.WAITING:
        storage.remove_waiting_after_commit(photo.file_name)


def family_may_see_photo(photo: Photo, family: frozenset[int], consenting: frozenset[int]) -> bool:
    """Whether a family sees a photo: every child seen in it is theirs or has photo consent."""
    return all(child_id in family or child_id in consenting for child_id in photo.child_ids)


@dataclass(frozen=True)
class PhotoAudience:
    """Which tagged children's families will see a photo, and which will not (staff see
    this before publishing)."""

    seen_by: list[Child]
    hidden_from: list[Child]


def photo_audiences(observation: Observation) -> dict[int, PhotoAudience]:
    """For each photo (by id), the families of the observation's children who see it."""
    consenting = setting_children().consenting
    families = _families_of([child.id for child in observation.children])
    audiences: dict[int, PhotoAudience] = {}
    for photo in observation.photos:
        seen_by, hidden_from = [], []
        for child in observation.children:
            family = families.get(child.id, frozenset({child.id}))
            sees = family_may_see_photo(photo, family, consenting)
            (seen_by if sees else hidden_from).append(child)
        audiences[photo.id] = PhotoAudience(seen_by, hidden_from)
    return audiences


def _families_of(child_ids: Sequence[int]) -> dict[int, frozenset[int]]:
    """Each child with the children who share a parent with them (siblings see each other)."""
    own, other = aliased(ParentLink), aliased(ParentLink)
    rows = db.session.execute(
        select(own.child_id, other.child_id)
        .join(other, other.parent_id == own.parent_id)
        .where(own.child_id.in_(child_ids))
    )
    families: dict[int, set[int]] = {child_id: {child_id} for child_id in child_ids}
    for child_id, relative_id in rows:
        families[child_id].add(relative_id)
    return {child_id: frozenset(family) for child_id, family in families.items()}


def children_without_consent_in_photos(observation: Observation) -> list[Child]:
    """Tagged children without photo consent who are in one of its photos (staff are told)."""
    in_photos = {child_id for photo in observation.photos for child_id in photo.child_ids}
    return [
        child for child in observation.children if child.id in in_photos and not child.photo_consent
    ]


def photo_of(
    observation: Observation, photo_id: int, *, unreadable_too: bool = False
) -> Photo | None:
    """The observation's photo ``photo_id``; with ``unreadable_too``, one whose upload could
    not be read counts as well (its notice is removed as a photo is)."""
    found = [*observation.photos, *(observation.unreadable_photos if unreadable_too else ())]
    return next((photo for photo in found if photo.id == photo_id), None)


def photo_observation_id(photo_id: int) -> int | None:
    return db.session.scalar(select(Photo.observation_id).where(Photo.id == photo_id))
