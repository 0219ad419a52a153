"""The retention schedule: how long each kind of record is kept after its trigger.

Each kind of record has a period after a trigger (a child's leaving date, a parent's
deactivation, a log entry's time ...), a default, the bounds a manager cannot go beyond,
and the reason for them, shown on the manager's schedule page. The periods are columns
of the setting's registry row (``tenants.models.Setting``), each with a CHECK of its
bounds, so a wrong value is refused by the database as well as by the form.

Purge dates are computed in SQL from the trigger and the period, so the archive, the
dashboard and the ``retention-purge`` job agree, and PostgreSQL's interval arithmetic
keeps a 29 February leaver on 28 February.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, DateTime, cast, func, literal, select, update
from sqlalchemy.sql.expression import ColumnElement

from app import clock
from app.auth import audit
from app.auth.models import User
from app.extensions import db
from app.retention.models import LeavingPack
from app.validation import InvalidInput
from tenants.binding import current_setting
from tenants.models import Setting


class Unit(enum.StrEnum):
    YEARS = "years"
    DAYS = "days"


@dataclass(frozen=True)
class RetentionRule:
    """How long one kind of record is kept, and why."""

    key: str  # the form field and the ``Setting`` column
    record: str  # in the manager's words
    trigger: str  # "after they leave"
    unit: Unit
    default: int
    limits: tuple[int, int]
    reason: str

    def amount(self, amount: int) -> str:
        """``amount`` of the rule's unit: "1 year", "3 years"."""
        unit = self.unit.value if amount != 1 else self.unit.value[:-1]
        return f"{amount} {unit}"


RULES: tuple[RetentionRule, ...] = (
    RetentionRule(
        "retention_years_after_leaving",
        "A child's record and journal",
        "after they leave",
        Unit.YEARS,
        3,
        (1, 25),
        "The EYFS sets no fixed period for learning journals: your setting decides. Many "
        "keep them a few years after the child leaves, for questions from the family or "
        "the next school; more than 25 years serves no purpose.",
    ),
    RetentionRule(
        "parent_retention_years",
        "A parent's or carer's account",
        "after their access ends",
        Unit.YEARS,
        1,
        (1, 6),
        "Only contact details and links to children: kept a short while for questions "
        "about the journal, never longer than the child's own claims could last (6 years).",
    ),
    RetentionRule(
        "staff_retention_years",
        "A member of staff's record",
        "after they leave",
        Unit.YEARS,
        6,
        (1, 10),
        "Employment records are commonly kept 6 years after employment ends, the time "
        "limit for most claims; at least 1 year for references.",
    ),
    RetentionRule(
        "log_retention_years",
        "Audit and journal access logs",
        "after each entry",
        Unit.YEARS,
        2,
        (1, 7),
        "Long enough to look into a complaint or a security incident, short enough not "
        "to become a record of everyone's habits.",
    ),
    RetentionRule(
        "link_retention_days",
        "Invitation and reset links",
        "after they expire or are used",
        Unit.DAYS,
        30,
        (1, 365),
        "A used or expired link opens nothing; it is kept briefly to explain a sign-in problem.",
    ),
    RetentionRule(
        "message_retention_days",
        "Sent emails",
        "after they are sent",
        Unit.DAYS,
        30,
        (1, 365),
        "Kept briefly to show that a message went out and to whom.",
    ),
    RetentionRule(
        "export_retention_days",
        "Leaving packs and exports",
        "after they are made",
        Unit.DAYS,
        30,
        (1, 90),
        "A pack holds a whole journal: it is kept only for downloading.",
    ),
)
RULE_BY_KEY: dict[str, RetentionRule] = {rule.key: rule for rule in RULES}


class InvalidPeriod(InvalidInput):
    """Periods outside their bounds; ``errors`` names each rule with what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def _column(key: str) -> ColumnElement[int]:
    return getattr(Setting, RULE_BY_KEY[key].key)


def retention_schedule() -> dict[str, int]:
    """The bound setting's period for every rule, by key."""
    row = db.session.execute(
        select(*(_column(rule.key) for rule in RULES)).where(Setting.id == current_setting().id)
    ).one()
    return {rule.key: amount for rule, amount in zip(RULES, row, strict=True)}


def period_problem(key: str, amount: int) -> str | None:
    """What is wrong with ``amount`` for rule ``key``, or None."""
    rule = RULE_BY_KEY[key]
    low, high = rule.limits
    if low <= amount <= high:
        return None
    return f"{rule.record}: keep it between {low} and {high} {rule.unit.value}."


def changed_periods(periods: Mapping[str, int]) -> dict[str, int]:
    """The periods that differ from the saved schedule; ``InvalidPeriod`` naming every
    period out of its bounds."""
    problems = {
        key: problem for key, amount in periods.items() if (problem := period_problem(key, amount))
    }
    if problems:
        raise InvalidPeriod(problems)
    before = retention_schedule()
    return {key: amount for key, amount in periods.items() if before[key] != amount}


def shortened(periods: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """The periods shorter than the saved ones: key -> (saved, new)."""
    before = retention_schedule()
    return {key: (before[key], new) for key, new in periods.items() if new < before[key]}


def write_periods(periods: Mapping[str, int]) -> None:
    db.session.execute(update(Setting).where(Setting.id == current_setting().id).values(periods))
    if "export_retention_days" in periods:
        # A pack is kept so many days after it is made: a shorter period brings forward
        # the expiry of packs already made; a longer one never keeps a pack past the day
        # its reader was told.
        kept_until = LeavingPack.created_at + _period("export_retention_days")
        db.session.execute(
            update(LeavingPack).values(expires_at=func.least(LeavingPack.expires_at, kept_until))
        )
    db.session.flush()


def save_retention_schedule(
    periods: Mapping[str, int], *, by: User, newly_due: Mapping[str, int] | None = None
) -> None:
    """A manager changes periods; every change is audited with the old and new value,
    and a shortened one with how many records it made due (``newly_due``)."""
    changed = changed_periods(periods)
    if not changed:
        return
    before = retention_schedule()
    write_periods(changed)
    for key, amount in changed.items():
        due = {"newly_due": newly_due[key]} if newly_due and key in newly_due else {}
        audit.record(
            "retention.period_changed", actor=by, record=key, old=before[key], new=amount, **due
        )
    db.session.flush()


def _period(key: str) -> ColumnElement[timedelta]:
    """SQL for the bound setting's period of rule ``key``, as an interval."""
    amount = select(_column(key)).where(Setting.id == current_setting().id).scalar_subquery()
    if RULE_BY_KEY[key].unit is Unit.YEARS:
        return func.make_interval(amount)
    return func.make_interval(0, 0, 0, amount)


def purge_date(key: str, trigger: ColumnElement[date]) -> ColumnElement[date]:
    """SQL for the day a record whose rule is ``key`` is due to be purged: its trigger
    date plus the bound setting's period. Due on that day itself."""
    return cast(trigger + _period(key), Date)


def kept_since(key: str) -> ColumnElement[datetime]:
    """SQL for the oldest moment a record of rule ``key`` may still be kept from: rows
    whose trigger is before it are due to be purged."""
    return literal(clock.now(), DateTime(timezone=True)) - _period(key)
