"""The audit trail a manager reads: the audit log and the journal access log, as one list.

Sign-ins and failures, account and link changes, exports, purges and policy changes are
rows of ``audit_log``; journal views are rows of ``journal_access_log``. Both are read
here as one list, newest first, filtered by person (who acted, or whom it was about; or
the child it was about, their observations and the comments in their view of them),
action and date (the setting's days), one page at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    String,
    Subquery,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.expression import ColumnElement

from app.auth.audit import action_label, detail_label, detail_value
from app.auth.models import AuditEntry, User
from app.extensions import db
from app.journal.models import Comment, JournalAccess, Observation, ObservationChild
from app.paging import PAGE_SIZE, Page
from app.people.models import Child
from app.retention.schedule import RULE_BY_KEY
from app.timezones import setting_zone

VIEW_ACTION_PREFIX = "journal."  # journal views appear as journal.journal, .observation ...
PURGED = "(purged)"  # a person the entry names who is no longer kept
DELETED = "(deleted)"  # an observation or comment no longer kept (deleted, or purged)


@dataclass(frozen=True)
class TrailFilters:
    person_id: int | None = None  # an account: who acted, or whom it was about
    child_id: int | None = None  # a child the entry is about
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class TrailEntry:
    at: datetime
    action: str  # the code, as recorded
    label: str  # the action in words, with what it changed when the code alone says little
    actor: str | None  # names as they are now; None for the system or a purged account
    about: str | None
    detail: list[tuple[str, str]]  # (what, its value), both in words


def _both_logs() -> Select:
    audit = select(
        AuditEntry.at.label("at"),
        AuditEntry.event.label("action"),
        AuditEntry.actor_id.label("actor_id"),
        AuditEntry.subject_id.label("subject_id"),
        cast(AuditEntry.detail["child_id"].astext, String).label("child_id"),
        AuditEntry.detail.label("detail"),
        AuditEntry.id.label("id"),
        _detail_id("observation_id").label("observation_id"),
        _detail_id("comment_id").label("comment_id"),
    )
    views = select(
        JournalAccess.at,
        (literal(VIEW_ACTION_PREFIX) + JournalAccess.what).label("action"),
        JournalAccess.viewer_id,
        null(),
        cast(JournalAccess.child_id, String),
        func.jsonb_build_object("observation_id", JournalAccess.observation_id),
        JournalAccess.id,
        # A view is of one child's journal (its child_id), even of a group observation.
        null(),
        null(),
    )
    return union_all(audit, views).subquery("trail")


def _detail_id(key: str) -> ColumnElement[int | None]:
    """The id an audit entry's details hold under ``key`` (an observation, a comment)."""
    value = AuditEntry.detail[key]
    return case((func.jsonb_typeof(value) == "number", value.as_integer()))


def _about_child(trail: Subquery, child_id: int) -> ColumnElement[bool]:
    """Entries about the child: naming them, or what was done to one of their observations
    (written, changed, published, a photo removed) or to a comment in their view of one."""
    return or_(
        trail.c.child_id == str(child_id),
        trail.c.observation_id.in_(
            select(ObservationChild.observation_id).where(ObservationChild.child_id == child_id)
        ),
        trail.c.comment_id.in_(select(Comment.id).where(Comment.child_id == child_id)),
    )


def _day_start(day: date) -> datetime:
    """Midnight starting ``day`` where the setting is: its days, not UTC's."""
    return datetime.combine(day, time(), tzinfo=setting_zone())


def audit_trail(filters: TrailFilters, number: int) -> Page[TrailEntry]:
    """One page of the trail, newest first."""
    trail = _both_logs()
    conditions = []
    if filters.person_id is not None:
        conditions.append(
            or_(trail.c.actor_id == filters.person_id, trail.c.subject_id == filters.person_id)
        )
    if filters.child_id is not None:
        conditions.append(_about_child(trail, filters.child_id))
    if filters.action:
        conditions.append(trail.c.action == filters.action)
    if filters.date_from:
        conditions.append(trail.c.at >= _day_start(filters.date_from))
    if filters.date_to and filters.date_to < date.max:  # date.max: no day after it to stop at
        conditions.append(trail.c.at < _day_start(filters.date_to + timedelta(days=1)))
    number = max(1, number)
    rows = db.session.execute(
        select(trail)
        .where(*conditions)
        .order_by(trail.c.at.desc(), trail.c.id.desc())
        .limit(PAGE_SIZE)
        .offset((number - 1) * PAGE_SIZE)
    ).all()
    total = db.session.scalar(select(func.count()).select_from(trail).where(*conditions)) or 0
    return Page(_named(rows), number, total)


def _named(rows: list) -> list[TrailEntry]:
    user_ids = {row.actor_id for row in rows} | {row.subject_id for row in rows}
    users = dict(
        db.session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids))).all()
    )
    child_ids = {int(row.child_id) for row in rows if row.child_id and row.child_id.isdigit()}
    children = {
        child.id: child.full_name
        for child in db.session.scalars(select(Child).where(Child.id.in_(child_ids)))
    }
    things = _things_named(rows)
    entries = []
    for row in rows:
        child = int(row.child_id) if row.child_id and row.child_id.isdigit() else None
        # Both when both: a parent's link to a child is about the two of them.
        named = [users.get(row.subject_id), children.get(child, PURGED) if child else None]
        about = ", ".join(name for name in named if name) or None
        detail = {k: v for k, v in (row.detail or {}).items() if k != "child_id" and v is not None}
        label, detail = _described(row.action, detail)
        said = [
            (detail_label(key), _in_words(row.action, key, value, things))
            for key, value in detail.items()
        ]
        entries.append(TrailEntry(row.at, row.action, label, users.get(row.actor_id), about, said))
    return entries


def _ids_of(rows: list, key: str) -> set[int]:
    return {
        value
        for row in rows
        if isinstance(value := (row.detail or {}).get(key), int) and not isinstance(value, bool)
    }


def _things_named(rows: list) -> dict[str, dict[int, str]]:
    """The observations and comments the rows' details name, as words (one query each)."""
    comments = dict(
        db.session.execute(
            select(Comment.id, Comment.observation_id).where(
                Comment.id.in_(_ids_of(rows, "comment_id"))
            )
        ).all()
    )
    wanted = _ids_of(rows, "observation_id") | set(comments.values())
    observations = {
        observation.id: f"of {observation.observed_on:%-d %B %Y}, "
        + ", ".join(child.full_name for child in observation.children)
        for observation in db.session.scalars(select(Observation).where(Observation.id.in_(wanted)))
    }
    return {
        "observation_id": observations,
        "comment_id": {
            comment_id: f"on the observation {observations[observation_id]}"
            for comment_id, observation_id in comments.items()
            if observation_id in observations
        },
    }


def _in_words(action: str, key: str, value: Any, things: dict[str, dict[int, str]]) -> str:
    """A detail's value as a manager reads it: what an id names (or that it is gone),
    a code in words, yes or no for a flag, anything else as recorded."""
    if key in things:
        return things[key].get(value, DELETED)
    if key in ("pack_id", "ledger_entry"):
        return f"number {value}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return detail_value(action, key, value) or str(value)


def _described(action: str, detail: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The action's words, and the details they do not already say. A period's change
    names its rule in words and its old and new periods, not the rule's key."""
    label = action_label(action)
    rule = (
        RULE_BY_KEY.get(detail.get("record", "")) if action == "retention.period_changed" else None
    )
    if rule is None:
        return label, detail
    what = rule.record[0].lower() + rule.record[1:]
    said = (
        f"{label}: {what} {rule.trigger}, {detail.get('old')} → {rule.amount(detail.get('new', 0))}"
    )
    return said, {k: v for k, v in detail.items() if k not in ("record", "old", "new")}


def trail_actions() -> list[tuple[str, str]]:
    """Every action the trail holds, code and words, for the filter's choices (by words)."""
    trail = _both_logs()
    codes = db.session.scalars(select(trail.c.action).distinct())
    return sorted(((code, action_label(code)) for code in codes), key=lambda choice: choice[1])


def trail_people() -> list[tuple[int, str]]:
    """Every account of the setting, for the filter's choices."""
    return list(db.session.execute(select(User.id, User.full_name).order_by(User.full_name)))


def trail_children() -> list[tuple[int, str]]:
    """Every child of the setting, archived ones too, for the filter's choices."""
    children = db.session.scalars(select(Child).order_by(Child.last_name, Child.first_name))
    return [(child.id, child.full_name) for child in children]
