"""Publishing: the content check, publishing a draft, holding it for review, and the
review queue where a manager approves or sends back (and staff take in home observations).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app import clock
from app.access.policy import Action, NotAllowed, can, check
from app.access.scopes import observations_in_full_for
from app.auth import audit
from app.auth.models import User
from app.auth.viewer import Reader
from app.extensions import db
from app.journal import notifications
from app.journal.content_rules import ContentRules, Finding, Mode, check_observation
from app.journal.input_rules import REVIEW_NOTE, clean_text
from app.journal.models import Observation, ObservationKind, ObservationStatus
from app.journal.names import name_of, setting_children
from app.journal.policies import content_rules
from app.journal.revisions import before_change, revised
from app.journal.text import ObservationText
from app.validation import InvalidInput


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
    check(by, Action.PUBLISH_OBSERVATION, observation)
    _refuse_children_who_left(observation, "take them off this draft before publishing")
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


# A second tap of a button (or the page sent again) finds done what the first tap did: the
# person is told so, not refused ("That didn't work" read as the first tap having failed).


def published_already(observation: Observation, by: User) -> bool:
    """Whether ``by``'s "Publish" finds the observation published, and they may change it."""
    return observation.is_published and can(by, Action.EDIT_OBSERVATION, observation)


def approved_already(observation: Observation, by: User) -> bool:
    """Whether ``by``'s "Approve" finds the observation published, and they review some."""
    return observation.is_published and can(by, Action.REVIEW_OBSERVATIONS)


def sent_back_already(observation: Observation, by: User) -> bool:
    """Whether ``by``'s "Send back" finds the observation sent back by them a moment ago."""
    return (
        observation.status in (ObservationStatus.DRAFT, ObservationStatus.DECLINED)
        and observation.reviewed_by_id == by.id
        and observation.reviewed_at is not None
        and observation.reviewed_at >= clock.sent_twice_since()
    )


def _refuse_children_who_left(observation: Observation, what_now: str) -> None:
    left = [child.full_name for child in observation.children if child.is_archived]
    if left:
        raise NotAllowed(f"{', '.join(left)} left the setting: {what_now}.")


class CorrectionNeedsConfirmation(InvalidInput):
    """Warn mode: a correction of a published observation matches the content rules and its
    author has not yet seen the findings (``checked``). Raised before anything is kept."""

    def __init__(self, checked: ContentCheck) -> None:
        super().__init__("This correction matches the setting's content rules.")
        self.checked = checked


def hold_if_flagged(observation: Observation, by: User, *, confirmed: bool = True) -> None:
    """A correction to a published observation meets the same content rules as publishing:
    in "needs approval" mode, one that now matches a rule waits for a manager again (not
    a manager's own: they are who would approve it); in "warn" mode, unless ``confirmed``,
    its author is shown the findings first (``CorrectionNeedsConfirmation``), as at
    publishing."""
    if not observation.is_published:
        return
    rules = content_rules()
    approves = can(by, Action.REVIEW_HELD_OBSERVATIONS)
    if (rules.mode is Mode.NEEDS_APPROVAL and approves) or (rules.mode is Mode.WARN and confirmed):
        return
    checked = check_content(observation, rules)
    if not checked.flagged:
        return
    if rules.mode is Mode.NEEDS_APPROVAL:
        _hold_for_review(observation, by, checked)
    else:
        raise CorrectionNeedsConfirmation(checked)


def now_in_journals(observation: Observation, now: datetime) -> None:
    """A published observation is in the journal of each child on it: a child's family
    who could not see it before (first published, or the child added since, perhaps by a
    correction that waited for approval) is told if they asked, once; a withdrawn or held
    one coming back is news to nobody."""
    newly = [tag for tag in observation.tags if tag.in_journal_since is None]
    for tag in newly:
        tag.in_journal_since = now
    if newly:
        notifications.tell_parents_of_new(observation, {tag.child_id for tag in newly})


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


def _first_published(observation: Observation, now: datetime) -> None:
    """``published_at`` is when families first saw it, kept when a withdrawn or held
    observation comes back: what is new to a family (the email for each, the daily
    email's count, the home page's "new since your last visit") reads when each child's
    family first could (``ObservationChild.in_journal_since``)."""
    if observation.published_at is None:
        observation.published_at = now


def _publish_now(observation: Observation, by: User, findings: int = 0) -> None:
    before = before_change(observation)  # published before, then withdrawn: a revision
    now = clock.now()
    observation.status = ObservationStatus.PUBLISHED
    _first_published(observation, now)
    now_in_journals(observation, now)
    observation.updated_at = now
    db.session.flush()
    revised(observation, before, by=by)
    audit.record(
        "observation.published", actor=by, observation_id=observation.id, findings=findings
    )


def approve(observation: Observation, *, by: User) -> None:
    """A manager publishes a held observation, or staff add a home observation to the journal."""
    check(by, Action.REVIEW_OBSERVATIONS, observation)
    # It may have waited while a child left: their journal is closed (perhaps packed).
    _refuse_children_who_left(observation, "it cannot join their journal now; send it back")
    now = clock.now()
    observation.status = ObservationStatus.PUBLISHED
    _first_published(observation, now)
    now_in_journals(observation, now)
    observation.reviewed_by_id, observation.reviewed_at = by.id, now
    observation.updated_at = now
    db.session.flush()
    audit.record("observation.approved", actor=by, observation_id=observation.id)


def send_back(observation: Observation, *, by: User, note: str = "") -> None:
    """Not published: a held observation goes back to its author as a draft; a home
    observation is marked as not added to the journal."""
    check(by, Action.REVIEW_OBSERVATIONS, observation)
    now = clock.now()
    observation.review_note = clean_text(note, "note", REVIEW_NOTE)
    observation.status = (
        ObservationStatus.DRAFT
        if observation.kind is ObservationKind.STAFF
        else ObservationStatus.DECLINED
    )
    observation.reviewed_by_id, observation.reviewed_at = by.id, now
    observation.updated_at = now
    db.session.flush()
    audit.record("observation.sent_back", actor=by, observation_id=observation.id)


def review_queue(viewer: Reader) -> tuple[list[Observation], list[Observation]]:
    """(observations held for a manager, home observations waiting for staff), oldest first."""
    waiting = (
        select(Observation)
        .where(Observation.status == ObservationStatus.IN_REVIEW, *observations_in_full_for(viewer))
        .order_by(Observation.updated_at, Observation.id)
    )
    held: list[Observation] = []
    if can(viewer, Action.REVIEW_HELD_OBSERVATIONS):
        held = list(db.session.scalars(waiting.where(Observation.kind == ObservationKind.STAFF)))
    home = list(db.session.scalars(waiting.where(Observation.kind == ObservationKind.HOME)))
    return held, home
