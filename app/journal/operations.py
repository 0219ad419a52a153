"""The journal's rules, callable from a page, the CLI or a job.

Every operation checks what it is given, changes rows and flushes; the caller commits
once, so a refusal or a failure leaves nothing half-saved (photo files included: see
``app.journal.storage``). Changes are audited in the setting's audit log; views of a
child's journal go to the journal access log and nowhere else.

Who may see what (checked here, so every page asks the same questions):

- a manager: every observation of the setting;
- staff: observations of the setting's active children, except other authors' drafts;
- a parent: in the journal of a child linked to them, the published observations about
  that child, and the home observations they sent themselves.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from math import ceil
from typing import Generic, TypeVar

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app import clock
from app.auth import audit
from app.auth.models import Role, User
from app.extensions import db
from app.journal import notifications, storage
from app.journal.content_rules import (
    ContentRules,
    Finding,
    Mode,
    check_observation,
    clean_blocked_phrases,
)
from app.journal.masking import ChildName
from app.journal.media import ProcessedImage
from app.journal.models import (
    AGE_BANDS,
    AREAS_OF_LEARNING,
    CAPTION_LENGTH,
    CHARACTERISTICS_OF_LEARNING,
    COMMENT_LENGTH,
    NEXT_STEPS_LENGTH,
    PHRASE_LENGTH,
    TEXT_LENGTH,
    Comment,
    ContentRulesRecord,
    GroupNamePolicy,
    JournalAccess,
    JournalView,
    Observation,
    ObservationChild,
    ObservationKind,
    ObservationRevision,
    ObservationStatus,
    Photo,
    PhotoChild,
)
from app.journal.text import ObservationText, clean_observation_text
from app.people import operations as people
from app.people.models import Child, ParentLink
from app.people.operations import InvalidField
from app.validation import InvalidInput
from tenants.binding import current_setting
from tenants.models import Setting

PAGE_SIZE = 20
EARLIEST_OBSERVATION = date(2000, 1, 1)
STAFF_ROLES = (Role.MANAGER, Role.STAFF)

T = TypeVar("T")


class NotAllowed(InvalidInput):
    """The person may not do this to this observation (the page answers 403 or 409)."""


# ---------------------------------------------------------------- checking input


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


@dataclass(frozen=True)
class TextRule:
    """What a typed text must be: its name in messages, its most characters, and whether it
    may be left empty. The form checks the text as sent, the operation once it is cleaned."""

    label: str
    max_length: int
    required: bool = False

    @property
    def missing(self) -> str:
        return f"{self.label} is required."

    @property
    def too_long(self) -> str:
        return f"{self.label} must be at most {self.max_length:,} characters."


WHAT_HAPPENED = TextRule("What happened", TEXT_LENGTH, required=True)
NEXT_STEPS = TextRule("Next steps", NEXT_STEPS_LENGTH)
CAPTION = TextRule("Caption", CAPTION_LENGTH)
REVIEW_NOTE = TextRule("Note", NEXT_STEPS_LENGTH)
COMMENT = TextRule("Comment", COMMENT_LENGTH, required=True)
DELETION_REASON = TextRule("Reason", NEXT_STEPS_LENGTH)


def _clean_text(raw: str, field_name: str, rule: TextRule) -> str:
    text = clean_observation_text(raw)
    if rule.required and not text.strip():
        raise InvalidField(field_name, rule.missing)
    if len(text) > rule.max_length:
        raise InvalidField(field_name, rule.too_long)
    return text


def _clean_caption(raw: str) -> str:
    # A caption is one line: it becomes alt text too.
    return _clean_text(" ".join(raw.split()), "caption", CAPTION)


def _checked_date(observed_on: date | None, field_name: str = "observed_on") -> date:
    if observed_on is None:
        raise InvalidField(field_name, "Date observed is required.")
    if observed_on > clock.today():
        raise InvalidField(field_name, "The date cannot be in the future.")
    if observed_on < EARLIEST_OBSERVATION:
        raise InvalidField(field_name, f"The date must be after {EARLIEST_OBSERVATION:%Y}.")
    return observed_on


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
        "observed_on": _checked_date(details.observed_on),
        "text": _clean_text(details.text, "text", WHAT_HAPPENED),
        "next_steps": _clean_text(details.next_steps, "next_steps", NEXT_STEPS),
        "areas": _known_codes(details.areas, AREAS_OF_LEARNING, "areas"),
        "characteristics": _known_codes(
            details.characteristics, CHARACTERISTICS_OF_LEARNING, "characteristics"
        ),
        "age_band": details.age_band or None,
    }
    return children, values


# ---------------------------------------------------------------- who may do what


def is_staff(user: User) -> bool:
    return user.role in STAFF_ROLES


def may_edit(user: User, observation: Observation) -> bool:
    """A staff observation is changed by its author or a manager, as a draft or once
    published (a correction, kept as a revision); one waiting for review is not."""
    return (
        observation.kind is ObservationKind.STAFF
        and observation.status in (ObservationStatus.DRAFT, ObservationStatus.PUBLISHED)
        and (user.role is Role.MANAGER or observation.author_id == user.id)
    )


def may_publish(user: User, observation: Observation) -> bool:
    return observation.status is ObservationStatus.DRAFT and may_edit(user, observation)


def may_withdraw(user: User, observation: Observation) -> bool:
    return observation.status is ObservationStatus.PUBLISHED and may_edit(user, observation)


def may_delete(user: User, observation: Observation) -> bool:
    """A draft by whoever may edit it; anything else only by a manager (with a reason)."""
    if observation.status is ObservationStatus.DRAFT and may_edit(user, observation):
        return True
    return user.role is Role.MANAGER


def needs_reason_to_delete(observation: Observation) -> bool:
    """Deleting what families may have seen (or sent) is explained; a draft is not."""
    return not (
        observation.kind is ObservationKind.STAFF
        and observation.status is ObservationStatus.DRAFT
        and observation.published_at is None
    )


def _editable(observation: Observation, by: User) -> None:
    if not may_edit(by, observation):
        raise NotAllowed(
            "Only a draft or a published observation can be changed, by its author or a manager."
        )


# ---------------------------------------------------------------- revisions

Snapshot = dict[str, str]


def _photo_line(number: int, photo: Photo, names: dict[int, str]) -> str:
    seen = ", ".join(names.get(child_id, "a child") for child_id in sorted(photo.child_ids))
    caption = f" \u201c{photo.caption}\u201d" if photo.caption else ""
    return f"Photo {number}{caption}: {'shows ' + seen if seen else 'nobody chosen as in it'}"


def _snapshot(observation: Observation) -> Snapshot:
    """Every part of an observation a correction can change, as a reader would see it."""
    db.session.flush()
    names = {child.id: child.full_name for child in observation.children}
    return {
        "Status": "Published" if observation.is_published else "Withdrawn (draft)",
        "Date observed": f"{observation.observed_on:%-d %B %Y}",
        "Children": ", ".join(names.values()),
        "What happened": observation.text,
        "Next steps": observation.next_steps,
        "Areas of learning": "; ".join(observation.area_names),
        "Characteristics of effective learning": "; ".join(observation.characteristic_names),
        "Age band": observation.age_band_name or "",
        "Photos": "\n".join(
            _photo_line(number, photo, names)
            for number, photo in enumerate(observation.photos, start=1)
        ),
    }


def _before_change(observation: Observation) -> Snapshot | None:
    """What the observation looks like now, if it has ever been published (only then are
    changes kept as revisions: a draft nobody has seen changes freely)."""
    if observation.published_at is None:
        return None
    return _snapshot(observation)


def _revised(observation: Observation, before: Snapshot | None, *, by: User) -> None:
    """Keep what changed since ``before`` as a revision (who, when, what)."""
    if before is None:
        return
    after = _snapshot(observation)
    changes = [
        {"what": part, "before": before[part], "after": after[part]}
        for part in after
        if before.get(part) != after[part]
    ]
    if not changes:
        return
    now = clock.now()
    db.session.add(
        ObservationRevision(
            observation_id=observation.id, edited_at=now, editor_id=by.id, changes=changes
        )
    )
    if any(change["what"] != "Status" for change in changes):
        observation.edited_at = now  # families see the current version marked "edited"
    db.session.flush()


def revisions(observation: Observation) -> list[ObservationRevision]:
    """The corrections of an observation, newest first (for staff and managers)."""
    return list(
        db.session.scalars(
            select(ObservationRevision)
            .where(ObservationRevision.observation_id == observation.id)
            .order_by(ObservationRevision.edited_at.desc(), ObservationRevision.id.desc())
        )
    )


# ---------------------------------------------------------------- observations


def create_observation(details: ObservationDetails, *, by: User) -> Observation:
    """A new draft observation by a member of staff."""
    if not is_staff(by):
        raise NotAllowed("Only staff write observations.")
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


def update_observation(observation: Observation, details: ObservationDetails, *, by: User) -> None:
    """Change a draft or correct a published observation; a child no longer tagged is no
    longer in any of its photos, and it leaves that child's journal at once."""
    _editable(observation, by)
    before = _before_change(observation)
    children, values = _checked(details, already_tagged=observation.child_ids)
    for name, value in values.items():
        setattr(observation, name, value)
    kept = {child.id for child in children}
    observation.tags = [tag for tag in observation.tags if tag.child_id in kept] + [
        ObservationChild(child_id=child_id) for child_id in sorted(kept - observation.child_ids)
    ]
    for photo in observation.photos:
        photo.people = [person for person in photo.people if person.child_id in kept]
    observation.updated_at = clock.now()
    db.session.flush()
    _revised(observation, before, by=by)
    audit.record("observation.updated", actor=by, observation_id=observation.id)
    _hold_if_flagged(observation, by)


def _hold_if_flagged(observation: Observation, by: User) -> None:
    """A correction to a published observation meets the same content rules as publishing:
    in "needs approval" mode, one that now matches a rule waits for a manager again."""
    if not observation.is_published or by.role is Role.MANAGER:
        return
    rules = content_rules()
    if rules.mode is not Mode.NEEDS_APPROVAL:
        return
    checked = check_content(observation, rules)
    if checked.flagged:
        _hold_for_review(observation, by, checked)


def withdraw(observation: Observation, *, by: User) -> None:
    """Take a published observation back to draft: families no longer see it."""
    if not may_withdraw(by, observation):
        raise NotAllowed("Only a published observation is withdrawn, by its author or a manager.")
    before = _before_change(observation)
    observation.status = ObservationStatus.DRAFT
    observation.updated_at = clock.now()
    db.session.flush()
    _revised(observation, before, by=by)
    audit.record("observation.withdrawn", actor=by, observation_id=observation.id)


def delete_observation(observation: Observation, *, by: User, reason: str = "") -> None:
    """Remove an observation and (once committed) its photo files.

    A draft is deleted by whoever may edit it; anything families may have seen, only by
    a manager, who says why (the reason is kept in the audit log).
    """
    if not may_delete(by, observation):
        raise NotAllowed("Only a manager deletes an observation that has been published.")
    reason = _clean_text(reason, "reason", DELETION_REASON)
    if needs_reason_to_delete(observation) and not reason.strip():
        raise InvalidField("reason", DELETION_REASON.missing)
    for photo in observation.photos:
        _forget_files(photo)
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


# ---------------------------------------------------------------- photos


def add_photo(
    observation: Observation,
    image: ProcessedImage,
    *,
    caption: str = "",
    in_photo: Iterable[int] = (),
    by: User,
) -> Photo:
    """Store a processed photo with the observation.

    ``in_photo`` are the tagged children who can be seen in it, as the author ticked them
    (nobody unless chosen): a child without photo consent keeps the photo out of other
    families' views.
    """
    if observation.kind is ObservationKind.STAFF:
        _editable(observation, by)
    elif observation.author_id != by.id or observation.status is not ObservationStatus.IN_REVIEW:
        raise NotAllowed("Photos are added to a home observation by the parent who sends it.")
    before = _before_change(observation)
    caption = _clean_caption(caption)
    seen = _children_in_photo(observation, in_photo)
    photo = Photo(
        observation_id=observation.id,
        position=1 + max((p.position for p in observation.photos), default=0),
        file_name=storage.store(image.data, image.extension),
        thumbnail_name=storage.store(image.thumbnail, image.extension),
        width=image.width,
        height=image.height,
        size_bytes=len(image.data),
        caption=caption,
        created_at=clock.now(),
        people=[PhotoChild(child_id=child_id) for child_id in sorted(seen)],
    )
    observation.photos.append(photo)
    observation.updated_at = clock.now()
    db.session.flush()
    _revised(observation, before, by=by)
    _hold_if_flagged(observation, by)
    return photo


def _children_in_photo(observation: Observation, in_photo: Iterable[int]) -> set[int]:
    seen = set(in_photo)
    if not seen <= observation.child_ids:
        raise InvalidField("in_photo", "Choose children this observation is about.")
    return seen


def set_people_in_photo(
    photo: Photo, observation: Observation, in_photo: Iterable[int], *, by: User
) -> None:
    """Record again who can be seen in a photo (which decides which families see it)."""
    _editable(observation, by)
    before = _before_change(observation)
    seen = _children_in_photo(observation, in_photo)
    photo.people = [PhotoChild(child_id=child_id) for child_id in sorted(seen)]
    observation.updated_at = clock.now()
    db.session.flush()
    _revised(observation, before, by=by)


def remove_photo(photo: Photo, observation: Observation, *, by: User) -> None:
    _editable(observation, by)
    before = _before_change(observation)
    _forget_files(photo)
    observation.photos.remove(photo)
    observation.updated_at = clock.now()
    db.session.flush()
    _revised(observation, before, by=by)


def _forget_files(photo: Photo) -> None:
    storage.remove_after_commit(photo.file_name, photo.thumbnail_name)


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


# ---------------------------------------------------------------- the group-name policy and rules


def group_name_policy() -> GroupNamePolicy:
    """The current setting's choice: other children's names shown, or hidden."""
    value = db.session.scalar(select(Setting.group_names).where(Setting.id == current_setting().id))
    return GroupNamePolicy(value or GroupNamePolicy.HIDDEN)


def content_rules() -> ContentRules:
    """The current setting's unsuitable-content rules (none until a manager saves some)."""
    record = db.session.get(ContentRulesRecord, 1)
    if record is None:
        return ContentRules()
    return ContentRules(
        blocked_phrases=tuple(record.blocked_phrases),
        no_surnames=record.no_surnames,
        no_other_children_names=record.no_other_children_names,
        photo_limit=record.photo_limit,
        mode=Mode(record.mode),
    )


def save_policies(group_names: GroupNamePolicy, rules: ContentRules, *, by: User) -> None:
    """A manager sets the group-name policy and the content rules."""
    if by.role is not Role.MANAGER:
        raise NotAllowed("Only a manager sets the journal's policies.")
    phrases = clean_blocked_phrases(rules.blocked_phrases)
    if any(len(phrase) > PHRASE_LENGTH for phrase in phrases):
        raise InvalidField(
            "blocked_phrases", f"Each word or phrase must be at most {PHRASE_LENGTH} characters."
        )
    if rules.photo_limit is not None and rules.photo_limit < 0:
        raise InvalidField("photo_limit", "The photo limit cannot be negative.")
    db.session.execute(
        update(Setting)
        .where(Setting.id == current_setting().id)
        .values(group_names=GroupNamePolicy(group_names).value)
    )
    record = db.session.get(ContentRulesRecord, 1) or ContentRulesRecord(id=1)
    record.mode = rules.mode
    record.blocked_phrases = list(phrases)
    record.no_surnames = rules.no_surnames
    record.no_other_children_names = rules.no_other_children_names
    record.photo_limit = rules.photo_limit
    record.updated_at = clock.now()
    record.updated_by_id = by.id
    db.session.add(record)
    db.session.flush()
    audit.record(
        "journal.policies_changed",
        actor=by,
        group_names=group_names.value,
        mode=rules.mode.value,
        blocked_phrases=len(phrases),
        no_surnames=rules.no_surnames,
        no_other_children_names=rules.no_other_children_names,
        photo_limit=rules.photo_limit,
    )


def name_of(child: Child) -> ChildName:
    return ChildName(child.id, child.first_name, child.last_name, child.preferred_name)


@dataclass(frozen=True)
class SettingChildren:
    """Every child of the setting (also those who left), as the masking and rules need them."""

    names: tuple[ChildName, ...]
    consenting: frozenset[int]  # children whose photos may appear in other families' views

    @cached_property
    def by_id(self) -> dict[int, ChildName]:
        return {name.id: name for name in self.names}


def setting_children() -> SettingChildren:
    rows = db.session.execute(
        select(
            Child.id, Child.first_name, Child.last_name, Child.preferred_name, Child.photo_consent
        ).order_by(Child.id)
    ).all()
    return SettingChildren(
        names=tuple(
            ChildName(row.id, row.first_name, row.last_name, row.preferred_name) for row in rows
        ),
        consenting=frozenset(row.id for row in rows if row.photo_consent),
    )


# ---------------------------------------------------------------- publishing


@dataclass(frozen=True)
class CheckedPart:
    """One part of an observation (its text, next steps, a caption) as its reader sees it,
    and what matched in it."""

    label: str
    text: str | ObservationText
    findings: list[Finding]


@dataclass(frozen=True)
class ContentCheck:
    parts: list[CheckedPart] = field(default_factory=list)
    general: list[Finding] = field(default_factory=list)  # findings with no place (photo limit)

    @property
    def findings(self) -> list[Finding]:
        return [f for part in self.parts for f in part.findings] + self.general

    @property
    def flagged(self) -> bool:
        return bool(self.findings)


def check_content(observation: Observation, rules: ContentRules | None = None) -> ContentCheck:
    """The setting's rules applied to the observation's text, next steps and captions."""
    rules = rules or content_rules()
    tagged = [name_of(child) for child in observation.children]
    everyone = setting_children().names

    def check(shown: str | ObservationText, photo_count: int = 0) -> list[Finding]:
        return check_observation(
            shown, photo_count=photo_count, rules=rules, tagged=tagged, all_children=everyone
        )

    text = ObservationText(observation.text)
    main = check(text, len(observation.photos))
    parts = [CheckedPart("What happened", text, [f for f in main if f.start is not None])]
    general = [f for f in main if f.start is None]
    if observation.next_steps:
        next_steps = ObservationText(observation.next_steps)
        parts.append(CheckedPart("Next steps", next_steps, check(next_steps)))
    for number, photo in enumerate(observation.photos, start=1):
        if photo.caption:
            parts.append(
                CheckedPart(f"Caption of photo {number}", photo.caption, check(photo.caption))
            )
    return ContentCheck([part for part in parts if part.findings], general)


class Published(enum.StrEnum):
    PUBLISHED = "published"
    NEEDS_CONFIRMATION = "needs_confirmation"  # warn mode: the author has not yet seen the findings
    HELD = "held"  # needs-approval mode: waits in the manager's review queue


def publish(
    observation: Observation, *, by: User, confirmed: bool = False
) -> tuple[Published, ContentCheck]:
    """Publish a draft after checking the setting's content rules.

    In ``warn`` mode an observation with findings is published only once the author has
    seen them (``confirmed``); in ``needs_approval`` mode it waits for a manager.
    """
    if not may_publish(by, observation):
        raise NotAllowed("Only a draft is published, by its author or a manager.")
    left = [child.full_name for child in observation.children if child.is_archived]
    if left:
        raise NotAllowed(
            f"{', '.join(left)} left the setting: take them off this draft before publishing."
        )
    rules = content_rules()
    checked = check_content(observation, rules)
    if not checked.flagged:
        _publish_now(observation, by)
        return Published.PUBLISHED, checked
    if rules.mode is Mode.NEEDS_APPROVAL:
        _hold_for_review(observation, by, checked)
        return Published.HELD, checked
    if not confirmed:
        return Published.NEEDS_CONFIRMATION, checked
    _publish_now(observation, by, findings=len(checked.findings))
    return Published.PUBLISHED, checked


def _tell_parents_if_new(observation: Observation) -> None:
    """Parents who asked are emailed when an observation is first published (not when a
    withdrawn or held one comes back)."""
    if observation.published_at is None:
        notifications.tell_parents_of_new(observation)


def _hold_for_review(observation: Observation, by: User, checked: ContentCheck) -> None:
    observation.status = ObservationStatus.IN_REVIEW
    observation.updated_at = clock.now()
    db.session.flush()
    audit.record(
        "observation.held_for_review",
        actor=by,
        observation_id=observation.id,
        findings=len(checked.findings),
    )


def _publish_now(observation: Observation, by: User, findings: int = 0) -> None:
    before = _before_change(observation)  # published before, then withdrawn: a revision
    _tell_parents_if_new(observation)
    now = clock.now()
    observation.status = ObservationStatus.PUBLISHED
    observation.published_at = now
    observation.updated_at = now
    db.session.flush()
    _revised(observation, before, by=by)
    audit.record(
        "observation.published", actor=by, observation_id=observation.id, findings=findings
    )


def approve(observation: Observation, *, by: User) -> None:
    """A manager publishes a held observation, or staff add a home observation to the journal."""
    _reviewable(observation, by)
    _tell_parents_if_new(observation)
    now = clock.now()
    observation.status = ObservationStatus.PUBLISHED
    observation.published_at = now
    observation.reviewed_by_id, observation.reviewed_at = by.id, now
    observation.updated_at = now
    db.session.flush()
    audit.record("observation.approved", actor=by, observation_id=observation.id)


def send_back(observation: Observation, *, by: User, note: str = "") -> None:
    """Not published: a held observation goes back to its author as a draft; a home
    observation is marked as not added to the journal."""
    _reviewable(observation, by)
    now = clock.now()
    observation.review_note = _clean_text(note, "note", REVIEW_NOTE)
    observation.status = (
        ObservationStatus.DRAFT
        if observation.kind is ObservationKind.STAFF
        else ObservationStatus.DECLINED
    )
    observation.reviewed_by_id, observation.reviewed_at = by.id, now
    observation.updated_at = now
    db.session.flush()
    audit.record("observation.sent_back", actor=by, observation_id=observation.id)


def may_review(user: User, observation: Observation) -> bool:
    if observation.status is not ObservationStatus.IN_REVIEW:
        return False
    if observation.kind is ObservationKind.HOME:
        return is_staff(user)
    return user.role is Role.MANAGER


def _reviewable(observation: Observation, by: User) -> None:
    if not may_review(by, observation):
        raise NotAllowed("This observation is not waiting for your review.")


# ---------------------------------------------------------------- home observations


def create_home_observation(
    child: Child, observed_on: date | None, text: str, *, by: User
) -> Observation:
    """A parent's observation from home: it waits for staff before it joins the journal."""
    if by.role is not Role.PARENT or not people.is_linked(by, child):
        raise NotAllowed("Parents send home observations about their own children.")
    if child.is_archived:
        raise InvalidField("text", f"{child.known_as} has left: no new observations can be added.")
    now = clock.now()
    observation = Observation(
        kind=ObservationKind.HOME,
        status=ObservationStatus.IN_REVIEW,
        author_id=by.id,
        observed_on=_checked_date(observed_on),
        text=_clean_text(text, "text", WHAT_HAPPENED),
        next_steps="",
        areas=[],
        characteristics=[],
        created_at=now,
        updated_at=now,
        review_note="",
    )
    observation.tags = [ObservationChild(child_id=child.id)]
    db.session.add(observation)
    db.session.flush()
    audit.record("observation.home_sent", actor=by, observation_id=observation.id)
    return observation


# ---------------------------------------------------------------- comments


def add_comment(observation: Observation, child: Child, body: str, *, by: User) -> Comment:
    """A comment in ``child``'s view of a published observation (the page checked access)."""
    if not observation.is_published or child.id not in observation.child_ids:
        raise NotAllowed("Comments are added to published observations.")
    comment = Comment(
        observation_id=observation.id,
        child_id=child.id,
        author_id=by.id,
        body=_clean_text(body, "body", COMMENT),
        created_at=clock.now(),
    )
    db.session.add(comment)
    db.session.flush()
    return comment


def _own_comment(comment: Comment, by: User) -> None:
    if comment.author_id != by.id or comment.is_hidden:
        raise NotAllowed("Only the person who wrote a comment changes it, while it is shown.")


def edit_comment(comment: Comment, body: str, *, by: User) -> None:
    """The author of a comment corrects it; families see it marked "edited"."""
    _own_comment(comment, by)
    comment.body = _clean_text(body, "body", COMMENT)
    comment.edited_at = clock.now()
    db.session.flush()
    audit.record("comment.edited", actor=by, comment_id=comment.id)


def delete_comment(comment: Comment, *, by: User) -> None:
    """The author of a comment takes it back."""
    _own_comment(comment, by)
    audit.record("comment.deleted", actor=by, comment_id=comment.id)
    db.session.delete(comment)
    db.session.flush()


def comment_in_view(child: Child, observation: Observation, comment_id: int) -> Comment | None:
    """A comment of ``child``'s view of the observation (the page checked the view)."""
    return db.session.scalar(
        select(Comment).where(
            Comment.id == comment_id,
            Comment.observation_id == observation.id,
            Comment.child_id == child.id,
        )
    )


def hide_comment(comment: Comment, *, by: User) -> None:
    """Staff hide a comment from the family; it stays visible to staff, marked hidden."""
    if not is_staff(by):
        raise NotAllowed("Only staff hide comments.")
    if comment.is_hidden:
        return
    comment.hidden_at, comment.hidden_by_id = clock.now(), by.id
    db.session.flush()
    audit.record("comment.hidden", actor=by, comment_id=comment.id)


def comments_in_view(observation: Observation, child: Child, *, with_hidden: bool) -> list[Comment]:
    query = select(Comment).where(
        Comment.observation_id == observation.id, Comment.child_id == child.id
    )
    if not with_hidden:
        query = query.where(Comment.hidden_at.is_(None))
    return list(db.session.scalars(query.order_by(Comment.created_at, Comment.id)))


def family_comments(child: Child, observations: Sequence[Observation]) -> dict[int, list[Comment]]:
    """The comments a family sees in ``child``'s view of each observation (one query)."""
    grouped: dict[int, list[Comment]] = {observation.id: [] for observation in observations}
    for comment in db.session.scalars(
        select(Comment)
        .where(
            Comment.observation_id.in_(grouped),
            Comment.child_id == child.id,
            Comment.hidden_at.is_(None),
        )
        .order_by(Comment.created_at, Comment.id)
    ):
        grouped[comment.observation_id].append(comment)
    return grouped


def comments_by_child(observation: Observation) -> dict[int, list[Comment]]:
    """Every comment on an observation (hidden ones too), per child's view: for staff."""
    grouped: dict[int, list[Comment]] = {}
    for comment in db.session.scalars(
        select(Comment)
        .where(Comment.observation_id == observation.id)
        .order_by(Comment.created_at, Comment.id)
    ):
        grouped.setdefault(comment.child_id, []).append(comment)
    return grouped


def comment_for_staff(user: User, comment_id: int) -> Comment | None:
    comment = db.session.get(Comment, comment_id)
    if comment is None or observation_for_staff(user, comment.observation_id) is None:
        return None
    return comment


# ---------------------------------------------------------------- the access log


def record_view(
    viewer: User,
    children: Iterable[Child | int],
    what: JournalView,
    observation: Observation | None = None,
) -> None:
    """Who saw which child's journal or observation, and when (nothing else is logged here)."""
    now = clock.now()
    for child in children:
        db.session.add(
            JournalAccess(
                at=now,
                viewer_id=viewer.id,
                child_id=child if isinstance(child, int) else child.id,
                observation_id=observation.id if observation else None,
                what=what,
            )
        )
    db.session.flush()


# ---------------------------------------------------------------- finding things


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def _paged(query: Select[tuple[T]], number: int, count_of: Select[tuple[int]]) -> Page[T]:
    """One page of ``query``'s rows, and (``count_of``) how many there are in all."""
    number = max(1, number)
    items = list(db.session.scalars(query.limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)))
    return Page(items, number, db.session.scalar(count_of) or 0)


@dataclass(frozen=True)
class Filters:
    """What a list is narrowed to (every field optional).

    ``text`` is matched here only on staff's own list, where every name shows; in a
    child's view it is matched on the text as that view shows it (``app.journal.viewing``),
    so a name the group-name policy hides cannot be found by searching for it.
    """

    child_id: int | None = None
    area: str | None = None
    author_id: int | None = None
    status: ObservationStatus | None = None
    date_from: date | None = None
    date_to: date | None = None
    room: str | None = None
    key_person_id: int | None = None
    text: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.child_id:
            conditions.append(_tags(self.child_id))
        if self.area:
            conditions.append(Observation.areas.contains([self.area]))
        if self.author_id:
            conditions.append(Observation.author_id == self.author_id)
        if self.status:
            conditions.append(Observation.status == self.status)
        if self.date_from:
            conditions.append(Observation.observed_on >= self.date_from)
        if self.date_to:
            conditions.append(Observation.observed_on <= self.date_to)
        if self.room:
            conditions.append(_about_a_child_where(Child.room == self.room))
        if self.key_person_id:
            conditions.append(_about_a_child_where(Child.key_person_id == self.key_person_id))
        return conditions

    def text_conditions(self) -> list[ColumnElement[bool]]:
        """The text search in SQL, for staff's list (every name shown there)."""
        if not self.text:
            return []
        pattern = f"%{_escaped_like(self.text)}%"
        in_caption = exists().where(
            Photo.observation_id == Observation.id, Photo.caption.ilike(pattern, escape="\\")
        )
        return [
            or_(
                Observation.text.ilike(pattern, escape="\\"),
                Observation.next_steps.ilike(pattern, escape="\\"),
                in_caption,
            )
        ]


def _escaped_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _about_a_child_where(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(
        ObservationChild.observation_id == Observation.id,
        ObservationChild.child_id == Child.id,
        condition,
    )


def rooms() -> list[str]:
    """The rooms of the setting's active children, for the room filter."""
    return list(
        db.session.scalars(
            select(Child.room).where(Child.archived_at.is_(None)).distinct().order_by(Child.room)
        )
    )


def _tags(child_id: int) -> ColumnElement[bool]:
    return exists().where(
        ObservationChild.observation_id == Observation.id, ObservationChild.child_id == child_id
    )


def _staff_may_see(user: User) -> list[ColumnElement[bool]]:
    if user.role is Role.MANAGER:
        return []
    about_active_child = exists().where(
        ObservationChild.observation_id == Observation.id,
        ObservationChild.child_id == Child.id,
        Child.archived_at.is_(None),
    )
    not_someone_elses_draft = or_(
        Observation.status != ObservationStatus.DRAFT, Observation.author_id == user.id
    )
    return [about_active_child, not_someone_elses_draft]


def _newest_first(query: Select) -> Select:
    return query.order_by(Observation.observed_on.desc(), Observation.id.desc())


def observation_list(viewer: User, filters: Filters, page: int) -> Page[Observation]:
    """Staff's list of observations (all statuses they may see), newest first."""
    conditions = [*_staff_may_see(viewer), *filters.conditions(), *filters.text_conditions()]
    return _paged(
        _newest_first(select(Observation).where(*conditions)),
        page,
        select(func.count()).select_from(Observation).where(*conditions),
    )


def journal_child(viewer: User, child_id: int) -> Child | None:
    """The child, if ``viewer`` may open their journal: managers any child, staff the
    setting's active children, a parent only their linked children."""
    child = db.session.get(Child, child_id)
    if child is None:
        return None
    if viewer.role is Role.STAFF and child.is_archived:
        return None
    if viewer.role is Role.PARENT and not people.is_linked(viewer, child):
        return None
    return child


def journal_children(viewer: User) -> list[Child]:
    """The children whose journals ``viewer`` may open, for lists and filters."""
    if viewer.role is Role.PARENT:
        return people.children_of(viewer)
    if viewer.role is Role.MANAGER:
        return people.active_children() + people.archived_children()
    return people.active_children()


def family_of(viewer: User, child: Child) -> frozenset[int]:
    """Children whose names the viewer sees in ``child``'s journal whatever the policy:
    the child, and for a parent every child linked to them (a sibling is no stranger)."""
    if viewer.role is Role.PARENT:
        return frozenset({child.id, *(linked.id for linked in people.children_of(viewer))})
    return frozenset({child.id})


# A child's view names the tagged children from ``setting_children()``: their rows
# (and their key person's, which a Child row joins) need not be loaded with the tags.
_FOR_CHILD_VIEW = (selectinload(Observation.tags).lazyload(ObservationChild.child),)


def _in_journal(viewer: User, child: Child) -> list[ColumnElement[bool]]:
    published = Observation.status == ObservationStatus.PUBLISHED
    if viewer.role is Role.PARENT:
        own_home = (Observation.kind == ObservationKind.HOME) & (Observation.author_id == viewer.id)
        return [_tags(child.id), or_(published, own_home)]
    return [_tags(child.id), published]


def journal_page(child: Child, viewer: User, filters: Filters, page: int) -> Page[Observation]:
    """A page of ``child``'s journal as ``viewer`` sees it, newest first."""
    conditions = [*_in_journal(viewer, child), *filters.conditions()]
    return _paged(
        _newest_first(select(Observation).options(*_FOR_CHILD_VIEW).where(*conditions)),
        page,
        select(func.count()).select_from(Observation).where(*conditions),
    )


def whole_journal(child: Child, viewer: User, filters: Filters | None = None) -> list[Observation]:
    """Every observation of ``child``'s journal ``viewer`` may see (the export), or those the
    filters keep (but for ``text``, which the caller matches on what the view shows)."""
    conditions = [*_in_journal(viewer, child), *(filters.conditions() if filters else [])]
    return list(
        db.session.scalars(
            _newest_first(select(Observation).options(*_FOR_CHILD_VIEW).where(*conditions))
        )
    )


def paged(items: list[T], number: int) -> Page[T]:
    """One page of a list already in memory."""
    number = max(1, number)
    start = (number - 1) * PAGE_SIZE
    return Page(items[start : start + PAGE_SIZE], number, len(items))


def observation_in_journal(viewer: User, child: Child, observation_id: int) -> Observation | None:
    return db.session.scalar(
        select(Observation).where(Observation.id == observation_id, *_in_journal(viewer, child))
    )


def observation_for_staff(viewer: User, observation_id: int) -> Observation | None:
    """An observation in full (every name), for managers and staff who may see it."""
    if not is_staff(viewer):
        return None
    return db.session.scalar(
        select(Observation).where(Observation.id == observation_id, *_staff_may_see(viewer))
    )


def photo_of(observation: Observation, photo_id: int) -> Photo | None:
    return next((photo for photo in observation.photos if photo.id == photo_id), None)


def photo_observation_id(photo_id: int) -> int | None:
    return db.session.scalar(select(Photo.observation_id).where(Photo.id == photo_id))


def review_queue(viewer: User) -> tuple[list[Observation], list[Observation]]:
    """(observations held for a manager, home observations waiting for staff), oldest first."""
    waiting = (
        select(Observation)
        .where(Observation.status == ObservationStatus.IN_REVIEW, *_staff_may_see(viewer))
        .order_by(Observation.updated_at, Observation.id)
    )
    held: list[Observation] = []
    if viewer.role is Role.MANAGER:
        held = list(db.session.scalars(waiting.where(Observation.kind == ObservationKind.STAFF)))
    home = list(db.session.scalars(waiting.where(Observation.kind == ObservationKind.HOME)))
    return held, home


def access_log(child: Child, page: int) -> Page[JournalAccess]:
    condition = JournalAccess.child_id == child.id
    return _paged(
        select(JournalAccess)
        .where(condition)
        .order_by(JournalAccess.at.desc(), JournalAccess.id.desc()),
        page,
        select(func.count()).select_from(JournalAccess).where(condition),
    )


def authors() -> list[User]:
    """Everyone who has written an observation, for the author filter."""
    return list(
        db.session.scalars(
            select(User)
            .where(exists().where(Observation.author_id == User.id))
            .order_by(User.full_name, User.id)
        )
    )
