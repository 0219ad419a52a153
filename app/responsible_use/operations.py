"""The rules of responsible use: publishing and accepting the usage policy, the sharing rule,
and asking people now and then whether their email address is still right.

Operations flush and never commit. Publishing a policy drops this process's settings
snapshot once it commits, so this process gates on the new version at once (other
processes within the snapshot's few seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from app import clock
from app.auth import audit
from app.auth.models import AccountStatus, User
from app.extensions import db
from app.journal.text import clean_observation_text
from app.request_transaction import call_after_commit
from app.responsible_use.models import (
    EMAIL_CHECK_MONTHS_LIMITS,
    POLICY_LENGTH,
    SHARING_RULE_LENGTH,
    PolicyAcceptance,
    ResponsibleUseRules,
    UsagePolicy,
)
from app.responsible_use.texts import DEFAULT_SHARING_RULE, DEFAULT_USAGE_POLICY
from app.validation import InvalidInput
from tenants import registry
from tenants.binding import current_setting
from tenants.models import Setting
from tenants.provisioning import NewSetting
from tenants.registry import forget_cached

DAYS_PER_MONTH = 365.25 / 12


# ---------------------------------------------------------------- the usage policy


def current_policy_version() -> int:
    return current_setting().usage_policy_version


def current_policy() -> UsagePolicy:
    return db.session.get_one(UsagePolicy, current_policy_version())


def publish_default_usage_policy(connection: Connection, new: NewSetting) -> None:
    """Version 1 of a new setting's usage policy: ours, until the manager writes their own.
    A seed of every new setting (``tenants.provisioning.install_setting_seeds``)."""
    connection.execute(
        insert(UsagePolicy).values(version=1, text=DEFAULT_USAGE_POLICY, published_at=clock.now())
    )


def policy_not_accepted(user: User) -> bool:
    """Has ``user`` yet to accept the version in force? (No query: the gate asks every time.)"""
    return user.accepted_policy_version < current_policy_version()


class PolicyChanged(InvalidInput):
    """The page the person accepted showed a version that is no longer the one in force."""


def accept_policy(user: User, version: int) -> None:
    """Record that ``user`` accepted ``version``, which must be the one in force."""
    if version != current_policy_version():
        raise PolicyChanged("The policy has just been updated. Please read the new version.")
    db.session.execute(
        insert(PolicyAcceptance)
        .values(user_id=user.id, version=version, accepted_at=clock.now())
        .on_conflict_do_nothing()
    )
    user.accepted_policy_version = max(user.accepted_policy_version, version)
    db.session.flush()
    audit.record("usage_policy_accepted", actor=user, subject=user, version=version)


def _clean_text(raw: str, *, max_length: int, what: str) -> str:
    text = clean_observation_text(raw)
    if not text.strip():
        raise InvalidInput(f"{what} cannot be empty.")
    if len(text) > max_length:
        raise InvalidInput(f"{what} must be at most {max_length:,} characters.")
    return text


def publish_policy(raw_text: str, *, by: User) -> UsagePolicy:
    """Publish a new version; everyone (but its author) must accept it before going on.
    The same text sent again by its author a moment later is the version just published.

    The registry row is updated first, which locks it: two managers publishing at once
    get consecutive versions, never the same one.
    """
    text = _clean_text(raw_text, max_length=POLICY_LENGTH, what="The policy")
    current = _newest_policy_locked()
    if text == current.text:
        if _published_a_moment_ago(current, by):
            return current  # the same form sent twice (a double tap): that is this version
        raise InvalidInput("The policy is unchanged, so there is no new version to publish.")
    call_after_commit(forget_cached)  # the snapshot holds the version in force
    version = db.session.execute(
        update(Setting)
        .where(Setting.id == current_setting().id)
        .values(usage_policy_version=Setting.usage_policy_version + 1)
        .returning(Setting.usage_policy_version)
    ).scalar_one()
    policy = UsagePolicy(
        version=version, text=text, published_at=clock.now(), published_by_id=by.id
    )
    db.session.add(policy)
    db.session.flush()
    audit.record("usage_policy_published", actor=by, version=version)
    _accept_own_policy(by, version)
    return policy


def _newest_policy_locked() -> UsagePolicy:
    """The newest version, read with the registry row locked: a publish sent at the same
    moment (a double tap) waits for this one, then reads the version it made (not the
    process's registry snapshot, which may not have it yet)."""
    db.session.execute(
        select(Setting.id).where(Setting.id == current_setting().id).with_for_update()
    )
    return db.session.scalars(
        select(UsagePolicy).order_by(UsagePolicy.version.desc()).limit(1)
    ).one()


def _published_a_moment_ago(policy: UsagePolicy, by: User) -> bool:
    return policy.published_by_id == by.id and policy.published_at >= clock.sent_twice_since()


def _accept_own_policy(author: User, version: int) -> None:
    # Whoever wrote it has read it. Not through accept_policy(): the snapshot still
    # names the previous version until the commit.
    db.session.add(PolicyAcceptance(user_id=author.id, version=version, accepted_at=clock.now()))
    author.accepted_policy_version = version
    db.session.flush()


@dataclass(frozen=True)
class Acceptance:
    person: User
    accepted_at: datetime | None  # of the version in force; None: not accepted yet


def acceptances() -> list[Acceptance]:
    """Every active person and when they accepted the version in force, those missing first."""
    version = current_policy_version()
    rows = db.session.execute(
        select(User, PolicyAcceptance.accepted_at)
        .outerjoin(
            PolicyAcceptance,
            (PolicyAcceptance.user_id == User.id) & (PolicyAcceptance.version == version),
        )
        .where(User.status == AccountStatus.ACTIVE)
        .order_by(PolicyAcceptance.accepted_at.is_not(None), User.full_name)
    ).all()
    return [Acceptance(person, accepted_at) for person, accepted_at in rows]


# ---------------------------------------------------------------- sharing rule and email checks


@dataclass(frozen=True)
class Rules:
    sharing_rule: str
    email_check_months: int


DEFAULT_RULES = Rules(sharing_rule=DEFAULT_SHARING_RULE, email_check_months=12)
_RULES_KEPT = "lj_responsible_use_rules"  # app.extensions: {setting id: (read at, Rules)}


def _kept_rules() -> dict[int, tuple[float, Rules]]:
    return current_app.extensions.setdefault(_RULES_KEPT, {})


def rules() -> Rules:
    """The setting's rules, or the defaults until a manager saves their own.

    Every page with a photo reminds of the sharing rule, and only a manager changes it:
    each process keeps a setting's rules for at most ``registry.CACHE_SECONDS`` (the registry
    snapshot's bound), and drops them when a manager's change commits in it. Other
    processes show the new rule within those seconds.
    """
    setting_id = current_setting().id
    kept = _kept_rules().get(setting_id)
    if kept is not None and time.monotonic() - kept[0] < registry.CACHE_SECONDS:
        return kept[1]
    read_at = time.monotonic()
    saved = db.session.get(ResponsibleUseRules, 1)
    found = Rules(saved.sharing_rule, saved.email_check_months) if saved else DEFAULT_RULES
    _kept_rules()[setting_id] = (read_at, found)
    return found


def _forget_rules(setting_id: int) -> Callable[[], None]:
    return lambda: _kept_rules().pop(setting_id, None)


def save_rules(sharing_rule: str, email_check_months: int, *, by: User) -> Rules:
    low, high = EMAIL_CHECK_MONTHS_LIMITS
    if not low <= email_check_months <= high:
        raise InvalidInput(f"Ask about emails every {low} to {high} months.")
    saved = db.session.get(ResponsibleUseRules, 1) or ResponsibleUseRules(id=1)
    saved.sharing_rule = _clean_text(
        sharing_rule, max_length=SHARING_RULE_LENGTH, what="The sharing rule"
    )
    saved.email_check_months = email_check_months
    saved.updated_at = clock.now()
    saved.updated_by_id = by.id
    db.session.add(saved)
    db.session.flush()
    call_after_commit(_forget_rules(current_setting().id))
    audit.record("responsible_use_rules_saved", actor=by, email_check_months=email_check_months)
    return Rules(saved.sharing_rule, saved.email_check_months)


def _email_last_confirmed(user: User) -> datetime:
    # Activation counts: the activation link reached the person at that address.
    return user.email_confirmed_at or user.activated_at or user.created_at


def _email_check_cutoff() -> datetime:
    return clock.now() - timedelta(days=rules().email_check_months * DAYS_PER_MONTH)


def email_check_due(user: User) -> bool:
    """Is it time to ask ``user`` whether their email address is still right?"""
    return _email_last_confirmed(user) <= _email_check_cutoff()


def confirm_email_is_current(user: User) -> None:
    user.email_confirmed_at = clock.now()
    db.session.flush()
    audit.record("email_confirmed_current", actor=user, subject=user)


def emails_not_confirmed() -> list[tuple[User, datetime]]:
    """Active people whose email is due a check, with when it was last confirmed."""
    cutoff = _email_check_cutoff()
    people = db.session.scalars(
        select(User).where(User.status == AccountStatus.ACTIVE).order_by(User.full_name)
    )
    return [
        (person, _email_last_confirmed(person))
        for person in people
        if _email_last_confirmed(person) <= cutoff
    ]
