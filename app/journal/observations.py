"""Observations written, corrected, withdrawn and deleted: staff's, and parents' from home.

Every operation checks what it is given, changes rows and flushes; the caller commits
once, so a refusal or a failure leaves nothing half-saved (photo files included: see
``app.journal.storage``). Changes are audited in the setting's audit log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from app import clock
from app.access.policy import Action, can, check
from app.auth import audit
from app.auth.models import User
from app.auth.viewer import Reader
from app.extensions import db
from app.journal.closing import journal_closed
from app.journal.input_rules import (
    DELETION_REASON,
    NEXT_STEPS,
    WHAT_HAPPENED,
    checked_date,
    clean_text,
)
from app.journal.listing import journal_children
from app.journal.models import (
    AGE_BANDS,
    AREAS_OF_LEARNING,
    CHARACTERISTICS_OF_LEARNING,
    Observation,
    ObservationChild,
    ObservationKind,
    ObservationStatus,
)
from app.journal.photos import forget_files
from app.journal.publishing import hold_if_flagged, now_in_journals
from app.journal.revisions import before_change, revised
from app.people.models import Child
from app.validation import InvalidField


@dataclass(frozen=True)
class ObservationDetails:
    """What a member of staff types about an observation (checked by ``_checked``)."""

    observed_on: date
    child_ids: tuple[int, ...]
    text: str
    next_steps: str = ""
    areas: tuple[str, ...] = ()
    characteristics: tuple[str, ...] = ()
    age_band: str | None = None


def children_to_offer(viewer: Reader, observation: Observation | None = None) -> list[Child]:
    """The children ``viewer`` may write an observation about: those still at the setting
    whose journals they may open, and on an existing observation, any child who has left
    since (a child who left stays on a draft that was about them)."""
    children = [child for child in journal_children(viewer) if not child.is_archived]
    if observation is not None:
        children += [child for child in observation.children if child.is_archived]
    return children


def _known_codes(codes: Iterable[str], known: dict[str, str], field_name: str) -> list[str]:
    chosen = list(dict.fromkeys(codes))
    if any(code not in known for code in chosen):
        raise InvalidField(field_name, "Choose from the list.")
    return [code for code in known if code in chosen]  # in the framework's order


def _children_to_tag(child_ids: Sequence[int], already: set[int]) -> list[Child]:
    """The children an observation may be about: existing, and still at the setting
    unless they were tagged before they left."""
    wanted = list(dict.fromkeys(child_ids))
    if not wanted:
        raise InvalidField("child_ids", "Choose at least one child.")
    children = list(db.session.scalars(select(Child).where(Child.id.in_(wanted))))
    if len(children) != len(wanted):
        raise InvalidField("child_ids", "Choose children from the list.")
    for child in children:
        if child.is_archived and child.id not in already:
            raise InvalidField(
                "child_ids", f"{child.full_name} has left: no new observations can be added."
            )
    return sorted(children, key=lambda child: child.id)


def _checked(
    details: ObservationDetails, already_tagged: set[int]
) -> tuple[list[Child], dict[str, object]]:
    children = _children_to_tag(details.child_ids, already_tagged)
    if details.age_band and details.age_band not in AGE_BANDS:
        raise InvalidField("age_band", "Choose an age band from the list.")
    values = {
        "observed_on": checked_date(details.observed_on, children),
        "text": clean_text(details.text, "text", WHAT_HAPPENED),
        "next_steps": clean_text(details.next_steps, "next_steps", NEXT_STEPS),
        "areas": _known_codes(details.areas, AREAS_OF_LEARNING, "areas"),
        "characteristics": _known_codes(
            details.characteristics, CHARACTERISTICS_OF_LEARNING, "characteristics"
        ),
        "age_band": details.age_band or None,
    }
    return children, values


# What an edit form changes besides the children: the columns ``_checked`` gives values for.
_EDITED_COLUMNS = ("observed_on", "text", "next_steps", "areas", "characteristics", "age_band")


class ChangedSinceOpened(InvalidField):
    """The observation was saved by someone else after the edit form was opened: saving
    the form would silently undo their change (two people correcting the same observation
    on two tablets)."""

    def __init__(self) -> None:
        super().__init__(
            "text",  # beside what most often differs (the form's hidden version has no place)
            "This observation was changed by someone else after you opened it, so nothing "
            "was saved. What you typed is below: look at the observation as it is now, then "
            "save again to replace it with this.",
        )


def _version(child_ids: Iterable[int], values: Mapping[str, object]) -> str:
    parts = [sorted(child_ids), *(repr(values[name]) for name in _EDITED_COLUMNS)]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


def edit_version(observation: Observation) -> str:
    """What an edit form shows of the observation, in short: the form sends it back, so a
    save can tell whether the observation changed after the form was opened."""
    values = {name: getattr(observation, name) for name in _EDITED_COLUMNS}
    return _version(observation.child_ids, values)


def needs_reason_to_delete(observation: Observation) -> bool:
    """Deleting what families may have seen (or sent) is explained; a draft is not."""
    return not observation.only_staff_have_seen


# What each kind of observation is when it has just been sent.
_SENT_AS = {
    ObservationKind.STAFF: ObservationStatus.DRAFT,
    ObservationKind.HOME: ObservationStatus.IN_REVIEW,
}


def _sent_a_moment_ago(by: User, kind: ObservationKind, version: str) -> Observation | None:
    """``by``'s observation of ``kind``, as it was sent a moment ago, with this version."""
    recent = db.session.scalars(
        select(Observation)
        .where(
            Observation.author_id == by.id,
            Observation.kind == kind,
            Observation.status == _SENT_AS[kind],
            Observation.created_at >= clock.sent_twice_since(),
        )
        .order_by(Observation.id.desc())
    )
    return next((sent for sent in recent if edit_version(sent) == version), None)


def created_a_moment_ago(details: ObservationDetails, *, by: User) -> Observation | None:
    """The draft ``by`` created with these very details a moment ago, if any."""
    try:
        children, values = _checked(details, already_tagged=set())
    except InvalidField:
        return None  # the form is refused as it would be the first time
    version = _version((child.id for child in children), values)
    return _sent_a_moment_ago(by, ObservationKind.STAFF, version)


def home_sent_a_moment_ago(
    child: Child, observed_on: date | None, text: str, *, by: User
) -> Observation | None:
    """The home observation ``by`` sent about ``child`` with these words a moment ago
    (a parent's phone sending the form twice while the photos upload), if any."""
    try:
        values = _home_values(child, observed_on, text)
    except InvalidField:
        return None
    return _sent_a_moment_ago(by, ObservationKind.HOME, _version([child.id], values))


def create_observation(details: ObservationDetails, *, by: User) -> Observation:
    """A new draft observation by a member of staff."""
    check(by, Action.WRITE_OBSERVATIONS)
    children, values = _checked(details, already_tagged=set())
    now = clock.now()
    observation = Observation(
        kind=ObservationKind.STAFF,
        status=ObservationStatus.DRAFT,
        author_id=by.id,
        created_at=now,
        updated_at=now,
        review_note="",
        **values,
    )
    observation.tags = [ObservationChild(child_id=child.id) for child in children]
    db.session.add(observation)
    db.session.flush()
    audit.record("observation.created", actor=by, observation_id=observation.id)
    return observation


# A closed journal's observation keeps its children: a child still here added to it would
# reopen it, and a child taken off would lose it from the journal they were given.
CLOSED_CHILDREN = "The children of an observation in a closed journal stay as they are."


def update_observation(
    observation: Observation,
    details: ObservationDetails,
    *,
    by: User,
    opened_version: str | None = None,
    confirmed: bool = True,
) -> None:
    """Change a draft or correct a published observation; a child no longer tagged is no
    longer in any of its photos, and it leaves that child's journal at once (but one
    without photo consent stays while ticked in a photo: ``_refuse_untagging_without_consent``).

    ``opened_version`` is ``edit_version`` as the form showed it: if the observation has
    changed since, the change is refused (``ChangedSinceOpened``), unless it is already
    what this form says (the same form sent twice: a double tap). Not ``confirmed`` (the
    edit form's first save), a correction the setting's rules match in warn mode is
    refused with the findings (``CorrectionNeedsConfirmation``)."""
    check(by, Action.EDIT_OBSERVATION, observation)
    closed = journal_closed(observation)  # then only a manager's rectification
    if closed and set(details.child_ids) != observation.child_ids:
        raise InvalidField("child_ids", CLOSED_CHILDREN)
    before = before_change(observation)
    children, values = _checked(details, already_tagged=observation.child_ids)
    now_version = edit_version(observation)
    changed_since = opened_version not in (None, now_version)
    if changed_since and _version((child.id for child in children), values) != now_version:
        raise ChangedSinceOpened()
    kept = {child.id for child in children}
    _refuse_untagging_without_consent(observation, kept)
    for name, value in values.items():
        setattr(observation, name, value)
    observation.tags = [tag for tag in observation.tags if tag.child_id in kept] + [
        ObservationChild(child_id=child_id) for child_id in sorted(kept - observation.child_ids)
    ]
    for photo in observation.photos:
        photo.people = [person for person in photo.people if person.child_id in kept]
    observation.updated_at = clock.now()
    db.session.flush()
    revised(observation, before, by=by)
    if closed:  # the manager's correction after the children left, told apart in the log
        audit.record("observation.rectified", actor=by, observation_id=observation.id)
    else:
        audit.record("observation.updated", actor=by, observation_id=observation.id)
    hold_if_flagged(observation, by, confirmed=confirmed)
    if observation.is_published:  # else the added children join their journals when it is
        now_in_journals(observation, observation.updated_at)


def _refuse_untagging_without_consent(observation: Observation, kept: set[int]) -> None:
    """A child without photo consent ticked in one of its photos stays tagged until the
    author unticks them there or removes the photo: untagged, they would leave the photo
    with nobody in it keeping it from the other families (``family_may_see_photo``)."""
    in_photos = {child_id for photo in observation.photos for child_id in photo.child_ids}
    held = [
        child.full_name
        for child in observation.children
        if child.id not in kept and child.id in in_photos and not child.photo_consent
    ]
    if held:
        one = len(held) == 1
        raise InvalidField(
            "child_ids",
            f"{', '.join(held)} {'has' if one else 'have'} no photo consent and "
            f"{'is' if one else 'are'} ticked in a photo of this observation: untick "
            f"{'them' if one else 'each'} in the photo (if not in it) or remove the photo "
            "first.",
        )


def withdrawn_already(observation: Observation, by: User) -> bool:
    """Whether ``by``'s "Withdraw" finds the observation withdrawn (a draft again after
    families saw it), and they may change it: a second tap, told so, not refused."""
    return (
        observation.status is ObservationStatus.DRAFT
        and observation.published_at is not None
        and can(by, Action.EDIT_OBSERVATION, observation)
    )


def withdraw(observation: Observation, *, by: User) -> None:
    """Take a published observation back to draft: families no longer see it."""
    check(by, Action.WITHDRAW_OBSERVATION, observation)
    before = before_change(observation)
    observation.status = ObservationStatus.DRAFT
    observation.updated_at = clock.now()
    db.session.flush()
    revised(observation, before, by=by)
    audit.record("observation.withdrawn", actor=by, observation_id=observation.id)


def delete_observation(observation: Observation, *, by: User, reason: str = "") -> None:
    """Remove an observation and (once committed) its photo files.

    A draft is deleted by whoever may edit it; anything families may have seen, only by
    a manager, who says why (the reason is kept in the audit log).
    """
    check(by, Action.DELETE_OBSERVATION, observation)
    reason = clean_text(reason, "reason", DELETION_REASON)
    if needs_reason_to_delete(observation) and not reason.strip():
        raise InvalidField("reason", DELETION_REASON.missing)
    for photo in observation.photos:
        forget_files(photo)
    audit.record(
        "observation.deleted",
        actor=by,
        observation_id=observation.id,
        status=observation.status.value,
        photos=len(observation.photos),
        reason=reason or None,
    )
    db.session.delete(observation)
    db.session.flush()


def no_home_observations(child: Child) -> str:
    """Why nothing more can be sent from home about a child who has left."""
    return f"{child.known_as} has left: no new observations can be added."


def _home_values(child: Child, observed_on: date | None, text: str) -> dict[str, object]:
    """A home observation's columns of ``_EDITED_COLUMNS``, checked."""
    return {
        "observed_on": checked_date(observed_on, [child]),
        "text": clean_text(text, "text", WHAT_HAPPENED),
        "next_steps": "",
        "areas": [],
        "characteristics": [],
        "age_band": None,
    }


def create_home_observation(
    child: Child, observed_on: date | None, text: str, *, by: User
) -> Observation:
    """A parent's observation from home: it waits for staff before it joins the journal."""
    check(by, Action.SEND_HOME_OBSERVATIONS, child)
    if child.is_archived:
        raise InvalidField("text", no_home_observations(child))
    now = clock.now()
    observation = Observation(
        kind=ObservationKind.HOME,
        status=_SENT_AS[ObservationKind.HOME],
        author_id=by.id,
        **_home_values(child, observed_on, text),
        created_at=now,
        updated_at=now,
        review_note="",
    )
    observation.tags = [ObservationChild(child_id=child.id)]
    db.session.add(observation)
    db.session.flush()
    audit.record("observation.home_sent", actor=by, observation_id=observation.id)
    return observation
