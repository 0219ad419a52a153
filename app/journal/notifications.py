"""Emails telling parents there is something new in their child's journal.

Each parent chooses (on their account page): none (the default), one email for each
newly published observation, or a daily email counting what is new. The email says only
that there is something new and links to it: no text, no names of other children, no
photos, so nothing the group-name policy or photo consent hides can reach an inbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time

from sqlalchemy import func, select

from app import clock
from app.auth import audit
from app.auth.models import AccountStatus, Role, User
from app.extensions import db
from app.journal.models import (
    EmailChoice,
    Observation,
    ObservationChild,
    ObservationEmails,
    ObservationStatus,
)
from app.mail import queue_email
from app.people.models import Child, ParentLink
from app.timezones import setting_zone
from tenants.binding import current_setting
from tenants.each_setting import EachSettingReport, run_each_setting
from tenants.models import Setting
from tenants.routing import setting_url


def email_choice(parent: User) -> EmailChoice:
    row = db.session.get(ObservationEmails, parent.id)
    return row.choice if row is not None else EmailChoice.OFF


def set_email_choice(parent: User, choice: EmailChoice) -> None:
    """A parent's own choice; a daily email starts counting from now."""
    row = db.session.get(ObservationEmails, parent.id) or ObservationEmails(user_id=parent.id)
    if row.choice is not choice:
        row.digest_since = clock.now()
    row.choice = choice
    db.session.add(row)
    db.session.flush()
    audit.record("observation_emails.chosen", actor=parent, subject=parent, choice=choice.value)


def _email(parent: User, subject: str, template: str, **context: object) -> None:
    setting = current_setting()
    queue_email(
        parent.email,
        subject.format(setting=setting.name),
        template,
        user_id=parent.id,
        user=parent,
        setting_name=setting.name,
        **context,
    )


def _parents_choosing(choice: EmailChoice, child_ids: set[int]) -> list[tuple[User, int]]:
    """Active parents of these children who chose ``choice``, each with one of their children."""
    rows = db.session.execute(
        select(User, func.min(ParentLink.child_id))
        .join(ParentLink, ParentLink.parent_id == User.id)
        .join(ObservationEmails, ObservationEmails.user_id == User.id)
        .where(
            ParentLink.child_id.in_(child_ids),
            User.role == Role.PARENT,
            User.status == AccountStatus.ACTIVE,
            ObservationEmails.choice == choice,
        )
        .group_by(User.id)
        .order_by(User.id)
    )
    return [(parent, child_id) for parent, child_id in rows]


def tell_parents_of_new(observation: Observation, child_ids: set[int]) -> int:
    """Email the parents who asked for each new observation (once, even with two children
    in it); returns how many were emailed. ``child_ids``: the children in whose journals
    it is new (all of them when it is first published; a correction's added children)."""
    told = observation.child_ids - child_ids
    # Parents of children already in it were emailed when those children's families could see it.
    already = (
        {parent.id for parent, _ in _parents_choosing(EmailChoice.EACH, told)} if told else set()
    )
    parents = [
        (parent, child_id)
        for parent, child_id in _parents_choosing(EmailChoice.EACH, child_ids)
        if parent.id not in already
    ]
    for parent, child_id in parents:
        child = db.session.get_one(Child, child_id)
        path = f"/journal/children/{child.id}/observations/{observation.id}"
        _email(
            parent,
            "Something new in {setting}'s learning journal",
            "new_observation",
            child_name=child.known_as,
            link=setting_url(current_setting().slug, path),
        )
    return len(parents)


def _new_in_journal_since(child_id: int, since: datetime) -> int:
    """Published observations that joined the child's journal after ``since``."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(ObservationChild)
            .where(
                ObservationChild.child_id == child_id,
                ObservationChild.status == ObservationStatus.PUBLISHED,
                ObservationChild.in_journal_since > since,
            )
        )
        or 0
    )


# The daily email goes once the nursery day is over: at this hour of the setting's day.
DIGEST_HOUR = 17


def _digest_due_at() -> datetime:
    """When today's daily email is due, in the bound setting's own time zone (a
    Sydney nursery's 17:00 is 06:00 UTC, a New York one's 22:00 UTC)."""
    return datetime.combine(clock.today(), time(DIGEST_HOUR), tzinfo=setting_zone())


def send_daily_digests(_setting: Setting) -> Mapping[str, int]:
    """The daily email to each parent who chose it and has something new: how many new
    observations in each child's journal since the last one (none: no email).

    The job runs every hour; each setting sends from its own 17:00, once a day: a
    parent already sent today's (``digest_since`` at or after it) is skipped."""
    sent = 0
    now, due_at = clock.now(), _digest_due_at()
    if now < due_at:
        return {"digests sent": 0}
    for choice in db.session.scalars(
        select(ObservationEmails).where(ObservationEmails.choice == EmailChoice.DAILY)
    ):
        parent = db.session.get_one(User, choice.user_id)
        if parent.status is not AccountStatus.ACTIVE:
            continue
        if choice.digest_since is not None and choice.digest_since >= due_at:
            continue
        since = choice.digest_since or now
        children = db.session.scalars(
            select(Child)
            .join(ParentLink, ParentLink.child_id == Child.id)
            .where(ParentLink.parent_id == parent.id)
            .order_by(Child.first_name, Child.id)
        )
        news = [
            (
                child.known_as,
                count,
                setting_url(current_setting().slug, f"/journal/children/{child.id}"),
            )
            for child in children
            if (count := _new_in_journal_since(child.id, since))
        ]
        choice.digest_since = now
        if news:
            _email(
                parent,
                "New in {setting}'s learning journals today",
                "observation_digest",
                news=news,
            )
            sent += 1
    db.session.flush()
    return {"digests sent": sent}


def daily_digests() -> EachSettingReport:
    """The ``observation-digests`` job: every active setting, one transaction each."""
    return run_each_setting(send_daily_digests)
