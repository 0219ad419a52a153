"""The journal's policies a manager sets: the group-name policy and the content rules."""

from __future__ import annotations

from sqlalchemy import select

from app import clock
from app.access.policy import Action, check
from app.auth import audit
from app.auth.models import User
from app.branding.operations import setting_row_to_change
from app.extensions import db
from app.journal.content_rules import ContentRules, Mode, clean_blocked_phrases
from app.journal.models import PHRASE_LENGTH, ContentRulesRecord, GroupNamePolicy
from app.validation import InvalidField
from tenants.binding import current_setting
from tenants.models import Setting


def group_name_policy() -> GroupNamePolicy:
    """The current setting's choice: other children's names shown, or hidden.

    A request's setting comes from the registry snapshot, which carries the choice: no
    query. The snapshot is at most ``tenants.registry.CACHE_SECONDS`` old in other
    processes, and a manager's change drops it in theirs at commit; so a change reaches
    every worker within those seconds (as a suspension does).
    """
    setting = current_setting()
    value = setting.group_names
    if value is None:  # bound without the snapshot (a job, a restore): ask the registry
        value = db.session.scalar(select(Setting.group_names).where(Setting.id == setting.id))
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
    check(by, Action.MANAGE_SETTING, refusal="Only a manager sets the journal's policies.")
    phrases = clean_blocked_phrases(rules.blocked_phrases)
    if any(len(phrase) > PHRASE_LENGTH for phrase in phrases):
        raise InvalidField(
            "blocked_phrases", f"Each word or phrase must be at most {PHRASE_LENGTH} characters."
        )
    if rules.photo_limit is not None and rules.photo_limit < 0:
        raise InvalidField("photo_limit", "The photo limit cannot be negative.")
    # The settings snapshot carries the choice (group_name_policy): dropped at commit.
    setting_row_to_change().group_names = GroupNamePolicy(group_names).value
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
