"""The archive: people who have left, the day each is due to be purged, and legal holds.

A child is in the archive once archived, a parent or member of staff once their account
is deactivated. Each is due on their trigger date (leaving date, or the day access ended)
plus their period in the retention schedule, unless a legal hold stops the purge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, delete, func, null, select
from sqlalchemy.sql.expression import ColumnElement

from app import clock
from app.auth import audit
from app.auth.models import STAFF_ROLES, AccountStatus, Role, User
from app.extensions import db
from app.journal.text import clean_observation_text
from app.people.models import Child, ParentLink, StaffMember
from app.retention import ledger
from app.retention.ledger import PurgeReason, RecordType
from app.retention.models import HOLD_REASON_LENGTH, LegalHold
from app.retention.schedule import purge_date
from app.timezones import setting_zone
from app.validation import InvalidInput
from tenants.binding import current_setting


@dataclass(frozen=True)
class ArchivedPerson:
    """Someone in the archive, as the archive page and the purge job see them."""

    record_type: RecordType
    id: int
    name: str
    left_on: date
    purge_on: date
    hold: LegalHold | None
    held_with: str | None = None  # a parent's child whose legal hold keeps them too

    @property
    def is_due(self) -> bool:
        return self.purge_on <= clock.today()

    @property
    def is_kept(self) -> bool:
        """Whether a legal hold stops their purge: their own, or their child's."""
        return self.hold is not None or self.held_with is not None


def _setting_day(moment: ColumnElement[datetime]) -> ColumnElement[date]:
    """SQL for the day ``moment`` falls on where the setting is (the database's own zone
    is not the setting's: 9 a.m. on 2 December in Sydney is the 1st in UTC)."""
    return func.date(func.timezone(setting_zone().key, moment))


def child_left_on() -> ColumnElement[date]:
    """The day an archived child left: their leaving date, else the day they were archived."""
    return func.coalesce(Child.leaving_date, _setting_day(Child.archived_at))


def child_purge_date() -> ColumnElement[date]:
    return purge_date("retention_years_after_leaving", child_left_on())


@dataclass(frozen=True)
class _Kind:
    """How to find one kind of archived person: the model, the day they left, the day
    they are due, the name of a child whose hold keeps them, and the query of rows
    ``(person, left on, purge on, hold, held with)``."""

    model: type[Child] | type[User]
    left_on: ColumnElement[date]
    purge_on: ColumnElement[date]
    held_with: ColumnElement[str | None]
    query: Select


def _archived_children() -> _Kind:
    left_on, purge_on = child_left_on(), child_purge_date()
    held_with = null()
    query = (
        select(Child, left_on, purge_on, LegalHold, held_with)
        .outerjoin(LegalHold, LegalHold.child_id == Child.id)
        .where(Child.archived_at.is_not(None))
    )
    return _Kind(Child, left_on, purge_on, held_with, query)


def _child_on_hold() -> ColumnElement[str | None]:
    """SQL for the name of a child on legal hold whom the parent row is linked to.

    A hold on a child keeps their journal whole: the comments their parents wrote in it
    and the links saying who those parents are go with a parent's purge, so the parent is
    kept while the hold stands (a hold on a parent, the other way, keeps only the parent).
    """
    return (
        select(func.concat_ws(" ", Child.first_name, Child.last_name))
        .join(ParentLink, ParentLink.child_id == Child.id)
        .join(LegalHold, LegalHold.child_id == Child.id)
        .where(ParentLink.parent_id == User.id)
        .order_by(Child.id)
        .limit(1)
        .scalar_subquery()
    )


def _deactivated(roles: tuple[Role, ...], key: str, held_with: ColumnElement[str | None]) -> _Kind:
    left_on = func.coalesce(
        StaffMember.leaving_date, _setting_day(User.deactivated_at), _setting_day(User.created_at)
    )
    purge_on = purge_date(key, left_on)
    query = (
        select(User, left_on, purge_on, LegalHold, held_with)
        .outerjoin(StaffMember, StaffMember.user_id == User.id)
        .outerjoin(LegalHold, LegalHold.user_id == User.id)
        .where(User.role.in_(roles), User.status == AccountStatus.DEACTIVATED)
    )
    return _Kind(User, left_on, purge_on, held_with, query)


def _kind(record_type: RecordType) -> _Kind:
    if record_type is RecordType.CHILD:
        return _archived_children()
    if record_type is RecordType.STAFF:
        return _deactivated(STAFF_ROLES, "staff_retention_years", null())
    return _deactivated((Role.PARENT,), "parent_retention_years", _child_on_hold())


def _person(record_type: RecordType, row: tuple) -> ArchivedPerson:
    person, left_on, purge_on, hold, held_with = row
    return ArchivedPerson(
        record_type, person.id, person.full_name, left_on, purge_on, hold, held_with
    )


def archived_people(record_type: RecordType) -> list[ArchivedPerson]:
    """Everyone of one kind in the archive, most recent leaver first."""
    kind = _kind(record_type)
    rows = db.session.execute(kind.query.order_by(kind.left_on.desc(), kind.model.id))
    return [_person(record_type, row) for row in rows]


def _due(kind: _Kind) -> Select:
    """The ids of people of ``kind`` past their purge date and not kept by a hold."""
    return kind.query.with_only_columns(kind.model.id).where(
        kind.purge_on <= clock.today(), LegalHold.id.is_(None), kind.held_with.is_(None)
    )


def due_for_purge(record_type: RecordType, limit: int | None = None) -> list[int]:
    """Ids of people of one kind past their purge date and not kept by a hold, oldest
    due first."""
    kind = _kind(record_type)
    ids = _due(kind).order_by(kind.purge_on, kind.model.id)
    return list(db.session.scalars(ids.limit(limit)))


def count_due(record_type: RecordType) -> int:
    """How many people of one kind the next purge takes."""
    due = _due(_kind(record_type)).subquery()
    return db.session.scalar(select(func.count()).select_from(due)) or 0


def children_past_retention() -> list[tuple[Child, date, bool]]:
    """Archived children whose purge date has come: (child, purge date, on hold), on hold
    or not yet purged by the job."""
    kind = _archived_children()
    rows = db.session.execute(
        kind.query.where(kind.purge_on <= clock.today()).order_by(kind.purge_on, Child.id)
    )
    return [(child, due_on, hold is not None) for child, _, due_on, hold, _ in rows]


def archived_children_with_deadlines() -> list[tuple[Child, date]]:
    """Children who have left, most recent first, each with their purge date."""
    rows = db.session.execute(
        _archived_children().query.order_by(Child.archived_at.desc(), Child.id)
    )
    return [(child, due_on) for child, _, due_on, *_ in rows]


def archived_person(record_type: RecordType, person_id: int) -> ArchivedPerson | None:
    """One person of the archive by id, or None (not there, or not of that kind)."""
    kind = _kind(record_type)
    row = db.session.execute(kind.query.where(kind.model.id == person_id)).first()
    return _person(record_type, row) if row is not None else None


# ---------------------------------------------------------------- legal holds


def purge_of(record_type: RecordType, person_id: int) -> ledger.LedgerEntry | None:
    """The purge that removed this person, if any: the ledger, which names purged rows by
    id only, is what says who went (a child's purge lists the parent accounts it took)."""
    table = "children" if record_type is RecordType.CHILD else "users"
    since_ever = datetime.min.replace(tzinfo=UTC)
    purges = [
        entry
        for entry in ledger.entries_for(current_setting().slug, since_ever)
        if person_id in entry.rows.get(table, ())
    ]
    return purges[-1] if purges else None


def purged_a_moment_ago(record_type: RecordType, person_id: int) -> bool:
    """Whether a manager purged this person within the window of a request sent twice
    (``clock.sent_twice_since``): a second tap of "Purge now" finds nobody."""
    purge = purge_of(record_type, person_id)
    return (
        purge is not None
        and purge.reason is PurgeReason.MANAGER
        and purge.at >= clock.sent_twice_since()
    )


def name_outside_archive(record_type: RecordType, person_id: int) -> str | None:
    """The name of this person if they are at the setting, not in the archive (back since
    an archive page was opened): the child, or the account, by id."""
    person = db.session.get(Child if record_type is RecordType.CHILD else User, person_id)
    return person.full_name if person is not None else None


def audited_about(record_type: RecordType, person_id: int) -> dict[str, Any]:
    """How an audit entry names whom it is about: ``child_id`` in its details, or the
    account as its subject. Both are how the audit log's person filter finds the entry
    and how a purge of that person deletes it (a ``user_id`` in the details was neither)."""
    if record_type is RecordType.CHILD:
        return {"child_id": person_id}
    return {"subject": db.session.get_one(User, person_id)}


def _hold_reason(reason: str, missing: str) -> str:
    """``reason`` as stored and audited: cleaned, spaces folded, required and bounded."""
    reason = " ".join(clean_observation_text(reason).split())
    if not reason:
        raise InvalidInput(missing)
    if len(reason) > HOLD_REASON_LENGTH:
        raise InvalidInput(f"The reason must be at most {HOLD_REASON_LENGTH} characters.")
    return reason


def _sent_twice(event: str, person: ArchivedPerson, reason: str, by: User) -> bool:
    """Whether ``by`` did ``event`` to ``person`` for this reason a moment ago: the same
    form sent twice (a second tap), answered as the first was."""
    try:
        reason = _hold_reason(reason, "")
    except InvalidInput:
        return False
    about = audited_about(person.record_type, person.id)
    return audit.done_a_moment_ago(event, actor=by, reason=reason, **about)


def place_hold(person: ArchivedPerson, reason: str, *, by: User) -> LegalHold:
    """Stop the purge of ``person`` until the hold is lifted; the reason is required."""
    if person.hold is not None:
        if _sent_twice("retention.hold_placed", person, reason, by):
            return person.hold
        raise InvalidInput(f"{person.name}'s records are already on hold.")
    reason = _hold_reason(reason, "Give the reason for the hold.")
    key = "child_id" if person.record_type is RecordType.CHILD else "user_id"
    hold = LegalHold(**{key: person.id}, reason=reason, placed_by_id=by.id, placed_at=clock.now())
    db.session.add(hold)
    db.session.flush()
    audit.record(
        "retention.hold_placed",
        actor=by,
        record=person.record_type.value,
        reason=reason,
        **audited_about(person.record_type, person.id),
    )
    return hold


def lift_hold(person: ArchivedPerson, reason: str, *, by: User) -> None:
    """Let the purge take ``person`` again, on their purge date or at the next run; the
    reason is required, as placing's is: the audit entry is all that says why once lifted."""
    if person.hold is None:
        if _sent_twice("retention.hold_lifted", person, reason, by):
            return
        raise InvalidInput(f"{person.name}'s records are not on hold.")
    reason = _hold_reason(reason, "Give the reason for lifting the hold.")
    db.session.execute(delete(LegalHold).where(LegalHold.id == person.hold.id))
    db.session.flush()
    audit.record(
        "retention.hold_lifted",
        actor=by,
        record=person.record_type.value,
        reason=reason,
        **audited_about(person.record_type, person.id),
    )
