"""The purge: one operation, used by the archive's "purge now" and by the retention job.

Purging children removes them and everything only theirs, in every table:

- observations in which only they are tagged, with their photos, comments and tags;
- photos that show only them, in the group observations that remain;
- their tags, photo tags, comments (a comment belongs to one child's view), parent
  links, legal holds, journal access-log rows and audit entries about them;
- the accounts of parents linked to no other child (nothing of theirs is left to see)
  and not on legal hold, with those parents' links, tokens, access-log and audit rows,
  sessions and Redis keys;
- what is kept in Redis of a form being written (``app.journal.unsaved``) that tags or
  names them.

In the group observations that remain, every mention of a purged child in the stored
text, next steps, review note, captions and comments is replaced, for good, with the
neutral placeholder of the masking (``app.journal.masking``), the children still tagged
keeping their names. Photo files go through the durable deletion queue after the commit
(``app.journal.storage.remove_after_commit``). One erasure-ledger entry is written at
commit; the audit log keeps the fact of the purge, with the ledger entry's id and counts
and no id, name or email of the person.

Purging accounts (parents, staff) removes the account with its links, tokens, comments,
home observations not yet in a journal, access-log and audit rows about them, outbox
messages to them, sessions and Redis keys; observations they wrote stay in the children's
journals, unsigned. Every mention of them in what stays is replaced, for good, by the
masking's matcher (``mask_people``): in observations' text, next steps and review notes,
captions, comments and revisions, and in what managers write about anyone (the audit
log's details, legal holds' reasons), their full name, first name, last name and each
part of them become "a parent" or "a member of staff"; outbox messages naming them go.
A name a child shares (their parent's surname, "Okafor" of Ada Okafor and Pat Okafor)
stays the child's; names that are also words ("Will", "May", "Rose", "Staff") go as
words too, as a child's do in the masking: an awkward sentence rather than a name left.
Parents who go with their children are scrubbed first, so that "Pat Okafor" becomes
"a parent", not "Pat a friend".

Operations flush and never commit: the request commits once per purge
(``app.request_transaction``), the job once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    Delete,
    Integer,
    Row,
    Select,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import ColumnElement

from app.auth import audit
from app.auth.models import AuditEntry, OneTimeLink, Role, User
from app.auth.sessions import end_all_sessions_of_accounts
from app.extensions import db
from app.id_lists import among, not_among
from app.journal import storage, unsaved
from app.journal.masking import (
    ChildName,
    mask_names,
    mask_other_children,
    mask_people,
    name_forms,
    names_any,
)
from app.journal.models import (
    Comment,
    JournalAccess,
    Observation,
    ObservationChild,
    ObservationRevision,
    ObservationStatus,
    Photo,
    PhotoChild,
    PhotoState,
)
from app.journal.names import names_of_children
from app.journal.text import (
    LATIN_LOOKS,
    LOOK_ALIKES,
    ObservationText,
    separated_by_spaces,
    term_key,
)
from app.mail.models import OutboxMessage
from app.people.models import Child, ParentLink
from app.redis_store import get_redis
from app.retention.ledger import LedgerEntry, PurgeReason, RecordType, append_at_commit
from app.retention.models import LeavingPack, LegalHold
from app.retention.packs import FORMATS, forget_pack_files
from tenants.binding import current_setting


@dataclass
class Purged:
    """The row ids a purge removed, per table, and how many files it queued for deletion."""

    rows: dict[str, list[int]] = field(default_factory=dict)
    files: int = 0
    scrubbed: int = 0  # group observations whose text no longer names them

    def add(self, table: str, ids: Iterable[int]) -> None:
        found = list(ids)
        if found:
            self.rows.setdefault(table, []).extend(found)

    def count(self, table: str) -> int:
        return len(self.rows.get(table, []))


def _deleted(statement: Delete) -> list[int]:
    """Run the DELETE; returns the ids it removed. Nothing loaded is kept in step: the
    purge forgets every loaded object when it ends."""
    returning = statement.returning(statement.table.c.id)
    return list(db.session.scalars(returning.execution_options(synchronize_session=False)))


def _without_jit() -> None:
    """Run the rest of the current transaction without PostgreSQL's JIT compiler.

    The purge's statements are each over one batch, but the planner, not knowing how
    many rows an array of ids or a text's words hold, costs some of them high enough to
    compile them to machine code first: 20-170 ms a statement, more than running them.
    ``set_config(..., true)`` is ``SET LOCAL``: it ends with the transaction."""
    db.session.execute(select(func.set_config("jit", "off", True)))


_PARALLEL_COSTS = ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size")


@contextmanager
def _in_parallel() -> Iterator[None]:
    """PostgreSQL splitting the scans inside between its parallel workers, whatever their
    size: the scan splitting every text of the setting into words runs before any batch,
    while the machine's other cores have nothing else of the purge to do (its wall time
    0.26 -> 0.17 s for 20,000 observations). Later statements, each over one batch, are
    planned as before."""
    before = db.session.execute(select(*map(func.current_setting, _PARALLEL_COSTS))).one()
    _set_locally({name: "0" for name in _PARALLEL_COSTS})
    try:
        yield
    finally:
        _set_locally(dict(zip(_PARALLEL_COSTS, before, strict=True)))


def _set_locally(values: dict[str, str]) -> None:
    db.session.execute(
        select(*(func.set_config(name, value, True) for name, value in values.items()))
    )


# ---------------------------------------------------------------- children


@dataclass(frozen=True)
class Mentions:
    """Which observations' stored words may name which children, found with one scan of
    the setting's observations, captions, comments and revisions for them all.

    The retention job scans once for every child it is about to purge, and each batch then
    picks its observations from here without a query: a scan per batch of 200 children cost
    the job more than all its deletes (bench/retention.py). Words written after the scan,
    while the job runs, are not seen: a mention typed then of a child gone for years is the
    window any scan leaves open until its transaction commits.
    """

    name_words: dict[int, frozenset[str]]  # child id -> the words of their name forms
    holding: dict[str, frozenset[int]]  # word -> the observations whose words hold it
    # Observations whose texts hold a character reference ("A&#100;a" reads Ada): their
    # words are not known until decoded, so the matcher reads them for every child.
    encoded: frozenset[int]
    messages: dict[str, frozenset[int]]  # word -> the outbox messages whose words hold it
    children: dict[str, frozenset[int]]  # word -> the children whose names hold it
    # place ("audit", "holds") -> word -> the rows whose typed reason holds it
    typed: dict[str, dict[str, frozenset[int]]]

    @classmethod
    def of(cls, child_ids: Iterable[int]) -> Mentions:
        return scan_mentions(child_ids)[0]

    def covers(self, child_ids: Iterable[int]) -> bool:
        return self.name_words.keys() >= set(child_ids)

    def children_named(self, child_ids: Iterable[int]) -> dict[int, set[int]]:
        """The observations holding a word of one of these children's names, each with
        the children whose words it holds (an observation with character references:
        with every one of them)."""
        children = sorted(set(child_ids))
        named = {observation: set(children) for observation in self.encoded}
        return self._named(self.holding, children, named)

    def messages_naming(self, child_ids: Iterable[int]) -> dict[int, set[int]]:
        """The outbox messages holding a word of one of these children's names, each with
        the children whose words it holds."""
        return self._named(self.messages, sorted(set(child_ids)), {})

    def reasons_naming(self, place: str, child_ids: Iterable[int]) -> dict[int, set[int]]:
        """The rows of ``place`` whose typed reason holds a word of one of these
        children's names, each with the children whose words it holds."""
        return self._named(self.typed[place], sorted(set(child_ids)), {})

    def namesakes_of(self, child_ids: Iterable[int]) -> set[int]:
        """The other children whose names hold a word of one of these children's names."""
        ids = set(child_ids)
        words = set().union(*(self.name_words.get(child, ()) for child in ids))
        return set().union(*(self.children.get(word, ()) for word in words)) - ids

    def _named(
        self, holding: dict[str, frozenset[int]], children: list[int], named: dict[int, set[int]]
    ) -> dict[int, set[int]]:
        return _holding_words_of(self.name_words, holding, children, named)


def _holding_words_of(
    name_words: dict[int, frozenset[str]],
    holding: dict[str, frozenset[int]],
    people: list[int],
    named: dict[int, set[int]],
) -> dict[int, set[int]]:
    """``named`` with each row ``holding`` a word of one of these people's names, and
    them (a scan's answer, by person: children's, or adults')."""
    for person in people:
        for word in name_words.get(person, ()):
            for found in holding.get(word, ()):
                named.setdefault(found, set()).add(person)
    return named


def purge_children(
    child_ids: Sequence[int],
    *,
    by: User | None,
    reason: PurgeReason,
    mentions: Mentions | None = None,
    adults: AdultMentions | None = None,
) -> LedgerEntry | None:
    """Purge these children (one purge, one ledger entry); None when none of them exists.
    ``mentions``: a scan made for (at least) these children, ``adults`` for their parents
    who go with them; None scans for them now."""
    purged = remove_children(child_ids, mentions, adults)
    if not purged.count("children"):
        return None
    return _recorded(RecordType.CHILD, purged, by=by, reason=reason)


def remove_children(
    child_ids: Sequence[int],
    mentions: Mentions | None = None,
    adults: AdultMentions | None = None,
) -> Purged:
    """Remove the children and everything only theirs, without a ledger entry (the purge
    itself, and its replay after a restore). Flushes; the caller commits."""
    ids = sorted(set(child_ids))
    purged = Purged()
    if not ids or not db.session.scalar(select(exists().where(among(Child.id, ids)))):
        return purged
    db.session.flush()
    _without_jit()
    parents = parents_only_of(ids)
    if mentions is None or not mentions.covers(ids) or adults is None or not adults.covers(parents):
        mentions, adults = scan_mentions(ids, parents)
    only_theirs = _observations_only_of(ids)
    photos = _photos_only_of(ids, only_theirs)
    _queue_files(photos, purged)
    purged_names = names_of_children(among(Child.id, ids))
    namesakes = _namesakes(ids, purged_names, mentions)
    # The parents' names first: where a parent's full name holds the child's surname
    # ("Pat Okafor"), it is the parent's ("a parent"), not "Pat a friend".
    _scrub_adults(parents, adults, purged, going=only_theirs)
    purged.scrubbed += _scrub_group_observations(
        ids, only_theirs, purged_names, namesakes, mentions.children_named(ids)
    )

    purged.add(
        "observation_comments",
        _deleted(
            delete(Comment).where(
                or_(among(Comment.child_id, ids), among(Comment.observation_id, only_theirs))
            )
        ),
    )
    purged.add(
        "journal_access_log",
        _deleted(delete(JournalAccess).where(among(JournalAccess.child_id, ids))),
    )
    purged.add("audit_log", _deleted(delete(AuditEntry).where(_about_children(ids))))
    _scrub_typed_reasons(purged_names, namesakes, mentions)
    purged.add(
        "observation_photos",
        _deleted(delete(Photo).where(among(Photo.id, photos))),
    )
    purged.add(
        "observations", _deleted(delete(Observation).where(among(Observation.id, only_theirs)))
    )
    _remove_packs(LeavingPack.child_id, ids, purged)
    _remove_messages(purged_names, namesakes, mentions.messages_naming(ids), purged)
    purged.add("parent_links", _deleted(delete(ParentLink).where(among(ParentLink.child_id, ids))))
    purged.add("children", _deleted(delete(Child).where(among(Child.id, ids))))
    _remove_accounts(parents, purged)
    unsaved.forget_kept(current_setting().slug, about=purged_names, namesakes=namesakes)
    # Rows went by SQL and by the foreign keys' cascades: no object loaded before may
    # stand for a row that is gone.
    db.session.expunge_all()
    return purged


def _namesakes(
    child_ids: list[int], children: list[ChildName], mentions: Mentions
) -> list[ChildName]:
    """The children staying who share a name with one of these (a brother, a cousin,
    another Mia) as the masking's matcher compares names: any form (full, given, last, a
    part of a multi-part name, a former name), ignoring case and accents. Where a text
    names them, the name is theirs, and the purge leaves it (``protected`` to the
    matcher). The scan found those whose names share a word with them; their forms are
    compared here."""
    sharing = mentions.namesakes_of(child_ids)
    if not sharing:
        return []
    keys = _form_keys(children)
    return [
        child
        for child in names_of_children(among(Child.id, sorted(sharing)))
        if _form_keys([child]) & keys
    ]


def _form_keys(children: Iterable[ChildName]) -> set[str]:
    return {term_key(form) for child in children for form in name_forms(child)}


def _remove_messages(
    purged_names: list[ChildName],
    namesakes: list[ChildName],
    may_name: dict[int, set[int]],
    purged: Purged,
) -> None:
    """Outbox messages whose subject or body names one of the children as the masking's
    matcher reads them (and as a reader would), not a namesake staying: of those whose
    words hold theirs, found by the scan, only those are read."""
    by_id = {child.id: child for child in purged_names}

    def names(message: int, text: str) -> bool:
        return names_any(text, [by_id[child] for child in sorted(may_name[message])], namesakes)

    _remove_messages_naming(may_name, names, purged)


def _remove_messages_naming(
    may_name: Collection[int], names: Callable[[int, str], bool], purged: Purged
) -> None:
    """The outbox messages of ``may_name`` whose subject or body ``names`` (the message,
    one of its texts) says names the purged."""
    if not may_name:
        return
    named = []
    for message, *texts in db.session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.subject,
            OutboxMessage.body_text,
            OutboxMessage.body_html,
        ).where(among(OutboxMessage.id, sorted(may_name)))
    ):
        if any(names(message, text or "") for text in texts):
            named.append(message)
    if named:
        purged.add(
            "outbox_messages",
            _deleted(delete(OutboxMessage).where(among(OutboxMessage.id, named))),
        )


def _remove_packs(column: ColumnElement[int], ids: list[int], purged: Purged) -> None:
    """Leaving packs of these children (or asked for by these people), with their files."""
    packs = list(db.session.scalars(select(LeavingPack).where(among(column, ids))))
    forget_pack_files(packs)
    purged.files += len(packs) * len(FORMATS)
    purged.add(
        "leaving_packs",
        _deleted(delete(LeavingPack).where(among(LeavingPack.id, [p.id for p in packs]))),
    )


def parents_only_of(child_ids: list[int]) -> list[int]:
    """Parents linked to these children and to no other, and not on legal hold (a hold
    on a parent stops every purge of them, their child's too: they stay, unlinked, until
    it is lifted and their own period has passed)."""
    other = aliased(ParentLink)
    linked_elsewhere = exists().where(
        other.parent_id == User.id, not_among(other.child_id, child_ids)
    )
    on_hold = exists().where(LegalHold.user_id == User.id)
    return list(
        db.session.scalars(
            select(User.id)
            .distinct()
            .join(ParentLink, ParentLink.parent_id == User.id)  # from the children's links
            .where(
                among(ParentLink.child_id, child_ids),
                User.role == Role.PARENT,
                ~linked_elsewhere,
                ~on_hold,
            )
            .order_by(User.id)
        )
    )


# Each batch's rows are found from the purged children's own tags, by the indexes led by
# the child: a condition on every observation or photo ("tagged with one of them, and
# with no one else") made PostgreSQL read the whole table, several times a batch, however
# few rows were theirs (bench/profile_purge.py prints each table's scans).


def _observations_only_of(child_ids: list[int]) -> list[int]:
    """Observations that tag these children and no other child."""
    other = aliased(ObservationChild)
    tagged_otherwise = exists().where(
        other.observation_id == ObservationChild.observation_id,
        not_among(other.child_id, child_ids),
    )
    return list(
        db.session.scalars(
            select(ObservationChild.observation_id)
            .where(among(ObservationChild.child_id, child_ids), ~tagged_otherwise)
            .distinct()
        )
    )


def _photos_only_of(child_ids: list[int], only_theirs: list[int]) -> list[int]:
    """Photos of the observations only theirs, and photos elsewhere in which these
    children are seen and no other child."""
    other = aliased(PhotoChild)
    shows_only_them = select(PhotoChild.photo_id).where(
        among(PhotoChild.child_id, child_ids),
        ~exists().where(
            other.photo_id == PhotoChild.photo_id, not_among(other.child_id, child_ids)
        ),
    )
    in_theirs = select(Photo.id).where(among(Photo.observation_id, only_theirs))
    return sorted(db.session.scalars(union(in_theirs, shows_only_them)))


def _about_children(child_ids: list[int]):  # noqa: ANN202 (an SQL condition)
    """Audit entries whose details name one of these children by id."""
    ids = literal([str(i) for i in child_ids], ARRAY(Text))
    return AuditEntry.detail["child_id"].astext == any_(ids)


# Audit events whose reason is text a manager typed (other events' reasons are codes),
# kept after a child's purge: they name an observation or an adult, not the child.
TYPED_REASONS = (
    "observation.deleted",
    "deactivated",
    "retention.hold_placed",
    "retention.hold_lifted",
)
REASON_PLACEHOLDER = "a child"


def _scrub_typed_reasons(
    children: list[ChildName], namesakes: list[ChildName], mentions: Mentions
) -> None:
    """Replace the children's names, as the masking's matcher reads them, in the reasons
    a manager typed that stay after their purge: in audit entries ("Put in Ada's journal
    by mistake") and in the legal holds of other people; a namesake's stay. Only the rows
    the scan found holding their words are read, as for an adult's purge."""
    ids = [child.id for child in children]
    mask = partial(
        mask_names, children=children, placeholder=REASON_PLACEHOLDER, protected=namesakes
    )
    _write_typed_reasons(
        {row: mask for row in mentions.reasons_naming("holds", ids)},
        {row: mask for row in mentions.reasons_naming("audit", ids)},
    )


def _write_typed_reasons(holds: dict[int, _Mask], audit_entries: dict[int, _Mask]) -> None:
    """Write back these legal holds' reasons and these audit entries' typed reasons, each
    through its row's mask, where that changes them."""
    if holds:
        _write_changed(
            LegalHold,
            [
                (row, {"reason": holds[row.id](row.reason)})
                for row in db.session.execute(
                    select(LegalHold.id, LegalHold.reason).where(among(LegalHold.id, sorted(holds)))
                )
            ],
        )
    if audit_entries:
        typed = select(AuditEntry.id, AuditEntry.detail).where(
            among(AuditEntry.id, sorted(audit_entries)), AuditEntry.event.in_(TYPED_REASONS)
        )
        _write_changed(
            AuditEntry,
            [
                (row, {"detail": _with_reason(row.detail, audit_entries[row.id])})
                for row in db.session.execute(typed)
            ],
        )


def _queue_files(photo_ids: list[int], purged: Purged) -> None:
    """The photos' files and thumbnails, to delete after the commit."""
    if photo_ids:
        names = func.unnest(array([Photo.file_name, Photo.thumbnail_name]))
        purged.files += storage.remove_named_after_commit(
            select(names).where(among(Photo.id, photo_ids))
        )
        # Uploads not yet processed: their bytes wait in a folder of their own.
        purged.files += storage.remove_named_after_commit(
            select(Photo.file_name).where(
                among(Photo.id, photo_ids), Photo.state == PhotoState.WAITING
            ),
            waiting=True,
        )


def _scrub_group_observations(
    child_ids: list[int],
    only_theirs: list[int],
    purged_names: list[ChildName],
    namesakes: list[ChildName],
    may_name: dict[int, set[int]],
) -> int:
    """Replace the purged children's names in the observations that remain: those they
    were tagged in with other children, and any other whose words may name them."""
    tagged = select(ObservationChild.observation_id).where(
        among(ObservationChild.child_id, child_ids)
    )
    named = select(func.unnest(literal(sorted(may_name), ARRAY(Integer))))
    remaining = db.session.execute(
        select(
            Observation.id, Observation.text, Observation.next_steps, Observation.review_note
        ).where(Observation.id.in_(union(tagged, named)), not_among(Observation.id, only_theirs))
    ).all()
    plans = _scrub_plans([row.id for row in remaining], purged_names, namesakes, may_name)
    _write_masked(
        remaining, {observation: _masking_children(*plan) for observation, plan in plans.items()}
    )
    for tags in (
        delete(ObservationChild).where(among(ObservationChild.child_id, child_ids)),
        delete(PhotoChild).where(among(PhotoChild.child_id, child_ids)),
    ):
        db.session.execute(tags.execution_options(synchronize_session=False))
    return len(remaining)


_Plan = tuple[list[ChildName], list[ChildName]]  # (the purged it may name, the children kept)


def _scrub_plans(
    observation_ids: list[int],
    purged_names: list[ChildName],
    namesakes: list[ChildName],
    may_name: dict[int, set[int]],
) -> dict[int, _Plan]:
    """For each observation that keeps a child: the purged children whose names its texts
    may hold (tagged in it, or its texts holding their words: ``Mentions``), and the
    children whose names stay: those kept, and the namesakes of those purged (a brother
    named in it, tagged or not).

    The masking's matcher compiles one pattern per set of names (0.3 ms a child; 200
    children's forms took 50-140 ms, once per observation kept by different children):
    each observation's matcher holds only the purged children it may name, shared by
    every observation that keeps the same children.
    """
    by_id = {child.id: child for child in purged_names}
    kept: dict[int, list[ChildName]] = {}
    tagged: dict[int, set[int]] = {}
    for observation, *name in db.session.execute(
        select(
            ObservationChild.observation_id,
            Child.id,
            Child.first_name,
            Child.last_name,
            Child.preferred_name,
            Child.former_names,
        )
        .join(Child, Child.id == ObservationChild.child_id)
        .where(among(ObservationChild.observation_id, observation_ids))
        .order_by(ObservationChild.observation_id, Child.id)
    ):
        *names, former = name
        child = ChildName(*names, tuple(former))
        if child.id in by_id:
            tagged.setdefault(observation, set()).add(child.id)
        else:
            kept.setdefault(observation, []).append(child)
    targets: dict[tuple[ChildName, ...], set[int]] = {}  # kept -> the purged their matcher holds
    for observation, staying in kept.items():
        found = targets.setdefault(tuple(staying), set())
        found.update(tagged.get(observation, ()), may_name.get(observation, ()))
    plans: dict[tuple[ChildName, ...], _Plan] = {}
    for group, ids in targets.items():
        named = [by_id[child] for child in sorted(ids)]
        keys = _form_keys(named)
        sharing = [
            child for child in namesakes if child not in group and _form_keys([child]) & keys
        ]
        plans[group] = (named, [*group, *sharing])
    return {observation: plans[tuple(staying)] for observation, staying in kept.items()}


def _write_changed(model: type, rows: list[tuple[Row, dict[str, object]]]) -> None:
    """Write each row's new values where any differs from what was read (one statement
    sent for them all)."""
    changed = [
        {"row_id": row.id, **values}
        for row, values in rows
        if any(getattr(row, column) != value for column, value in values.items())
    ]
    if changed:
        table = model.__table__  # type: ignore[attr-defined]
        written = {column: bindparam(column) for column in changed[0] if column != "row_id"}
        db.session.execute(
            update(table).where(table.c.id == bindparam("row_id")).values(written), changed
        )


def _write_masked(observations: Sequence[Row], masks: dict[int, _Mask]) -> None:
    """Write back the observations ``masks`` covers (rows of their id, text, next steps
    and review note), with their captions, comments and revisions, each text through
    its observation's mask.

    Rows are read and written as columns, not objects: only what a scrub reads is
    fetched, and only a row whose text changed is written back."""
    if not masks:
        return
    _write_changed(
        Observation,
        [
            (
                row,
                {
                    "text": _masked_markdown(row.text, masks[row.id]),
                    "next_steps": _masked_markdown(row.next_steps, masks[row.id]),
                    "review_note": masks[row.id](row.review_note),
                },
            )
            for row in observations
            if row.id in masks
        ],
    )
    scrubbed = sorted(masks)
    for model, column in ((Photo, Photo.caption), (Comment, Comment.body)):
        rows = db.session.execute(
            select(model.id, model.observation_id, column).where(
                among(model.observation_id, scrubbed), column != ""
            )
        ).all()
        _write_changed(model, [(row, {column.key: masks[row[1]](row[2])}) for row in rows])
    revisions = db.session.execute(
        select(
            ObservationRevision.id,
            ObservationRevision.observation_id,
            ObservationRevision.changes,
        ).where(among(ObservationRevision.observation_id, scrubbed))
    ).all()
    _write_changed(
        ObservationRevision,
        [
            (revision, {"changes": _masked_changes(revision.changes, masks[revision[1]])})
            for revision in revisions
        ],
    )


_Readable = TypeVar("_Readable", str, ObservationText)


class _Mask(Protocol):
    """Text (plain, or an observation's as its reader sees it) without the names a scrub
    removes; what comes back is of the same kind."""

    def __call__(self, text: _Readable, /) -> _Readable: ...


def _masking_children(purged: list[ChildName], kept: list[ChildName]) -> _Mask:
    """The purged children's names as the masking's placeholder, the kept children's kept."""
    return partial(mask_other_children, shown_child=kept[0], others=purged, kept=kept)


def _masked_changes(changes: list[dict[str, str]], mask: _Mask) -> list[dict[str, str]]:
    """A revision's changes without the names ``mask`` removes."""
    return [
        {**change, **{side: _masked_part(change, side, mask) for side in ("before", "after")}}
        for change in changes
    ]


def _masked_markdown(source: str, mask: _Mask) -> str:
    """Stored Markdown that no longer holds the names ``mask`` removes as its reader sees it.

    The names are replaced in the source, keeping its formatting, when that reads exactly
    as the masked reading of the text; otherwise (a name split by formatting, as in
    ``**Ad**a``) the text is stored as its reader sees it, masked, without formatting.
    """
    reading = ObservationText(source)
    read = mask(reading).text
    if reading.text == source:  # no formatting: the source is the reading, masked the same
        return read
    masked = mask(source)
    return masked if ObservationText(masked).text == read else read


MARKDOWN_PARTS = frozenset({"What happened", "Next steps"})  # as revisions name them


def _masked_part(change: dict[str, str], side: str, mask: _Mask) -> str:
    """One side of a revision's change, without the names ``mask`` removes."""
    text = change.get(side) or ""
    if change.get("what") in MARKDOWN_PARTS:
        return _masked_markdown(text, mask)
    return mask(text)


def _name_words(children: list[ChildName]) -> dict[int, frozenset[str]]:
    """Each child's name forms split into words by the database, as it splits the texts
    (``_words``)."""
    pairs = [(child.id, form) for child in children for form in name_forms(child)]
    forms = (
        func.unnest(
            literal([child for child, _ in pairs], ARRAY(Integer)),
            literal([form for _, form in pairs], ARRAY(Text)),
        )
        .table_valued("child_id", "form")
        .render_derived()
    )
    words: dict[int, set[str]] = {}
    for child, word in db.session.execute(select(forms.c.child_id, _words(forms.c.form))).all():
        if word:
            words.setdefault(child, set()).add(word)
    return {child: frozenset(found) for child, found in words.items()}


def _texts_holding(name_words: set[str], places: _Places) -> dict[str, frozenset[int]]:
    """For each of ``name_words``, the owners (observations, messages) one of whose texts
    in ``places`` holds it (ignoring case), or it with a plural ending; a word in a script
    written without spaces, anywhere in them (``_texts_containing``).

    Every text is split into words by the database (``_words``) and joined with the
    names' words: a hash join, one
    pass over the setting's texts whatever the number of children (a regular expression
    of 2,000 children's forms took 0.6 s per 20,000 observations, and grew with the
    names). A form found in a text shares its first word with it, so no observation naming
    a child is missed; the masking's matcher then reads those found.
    """
    if not name_words:
        return {}
    # A name's word also with the plural ending the matcher allows ("Zoes", "the Okafors").
    spellings: dict[str, set[str]] = {}
    run_together = sorted(word for word in name_words if not separated_by_spaces(word))
    for word in name_words.difference(run_together):
        for spelling in (word, f"{word}s", f"{word}es"):
            spellings.setdefault(spelling, set()).add(word)
    wanted = select(func.unnest(literal(sorted(spellings), ARRAY(Text))))
    # Not knowing how many words a text holds (it assumes 1,000 a row), the planner
    # expects millions of rows and would compile the query first: 0.3-0.5 s.
    _without_jit()
    holding: dict[str, set[int]] = {}
    found = union(*(_words_held(owner, text, wanted) for owner, text in places))
    with _in_parallel():
        for owner, spelling in db.session.execute(found).all():  # fetched at once
            for word in spellings[spelling]:
                holding.setdefault(word, set()).add(owner)
        for owner, word in _texts_containing(run_together, places):
            holding.setdefault(word, set()).add(owner)
    return {word: frozenset(owners) for word, owners in holding.items()}


def _texts_containing(words: list[str], places: _Places) -> list[Row[tuple[int, str]]]:
    """(owner, word) for each of ``words`` that one of the owner's texts holds anywhere,
    not only as a word: a name in a script written without spaces ("美玲" in
    "巴蒂和美玲搭积木") is not a word of its text as any split finds them, but the
    masking's matcher reads it there. Texts are folded as ``_words`` folds them (the
    name's words were too), so a form found by the matcher holds each of its words."""
    if not words:
        return []
    wanted = func.unnest(literal(words, ARRAY(Text))).table_valued("word").render_derived()
    return db.session.execute(
        union(
            *(
                select(owner, wanted.c.word)
                .select_from(owner.table)
                .join(wanted, func.strpos(_folded_readings(text), wanted.c.word) > 0)
                for owner, text in places
            )
        )
    ).all()


_Places = tuple[tuple[ColumnElement[int], ColumnElement[str]], ...]  # (owner id, a text)
_TEXT_PLACES: _Places = (  # (the observation, a text of it) for every text an observation has
    (
        Observation.id,
        func.concat_ws(" ", Observation.text, Observation.next_steps, Observation.review_note),
    ),
    (Photo.observation_id, Photo.caption),
    (Comment.observation_id, Comment.body),
    (ObservationRevision.observation_id, cast(ObservationRevision.changes, Text)),
)
_NAME_PLACES: _Places = (
    (
        Child.id,
        func.concat_ws(
            " ",
            Child.first_name,
            Child.last_name,
            Child.preferred_name,
            func.array_to_string(Child.former_names, " "),
        ),
    ),
)
_MESSAGE_PLACES: _Places = (
    (
        OutboxMessage.id,
        func.concat_ws(
            " ", OutboxMessage.subject, OutboxMessage.body_text, OutboxMessage.body_html
        ),
    ),
)

# A character reference as a reader's HTML decodes it (``app.journal.text``'s _ENTITY).
_REFERENCE = r"&(#[0-9]+|#x[0-9a-f]+|[a-z][a-z0-9]+)"


def _observations_with_references() -> frozenset[int]:
    """The observations any of whose texts holds a character reference."""
    found = union(
        *(select(owner).where(text.regexp_match(_REFERENCE, "i")) for owner, text in _TEXT_PLACES)
    )
    return frozenset(db.session.scalars(found))


def _words_held(
    owner: ColumnElement[int], text: ColumnElement[str], wanted: Select[tuple[str]]
) -> Select[tuple[int, str]]:
    """(observation, word) for each of the ``wanted`` words the rows' ``text`` holds."""
    words = _words(text).table_valued("word").render_derived().lateral()
    return (
        select(owner, words.c.word)
        .select_from(owner.table)
        .join(words, true())
        .where(words.c.word.in_(wanted))
    )


def _words(text: ColumnElement[str]):  # noqa: ANN202 (a set-returning SQL function)
    """The words of ``text`` near enough as the masking's matcher reads them
    (``app.journal.text.FoldedText``) to narrow what it reads: compatibility-decomposed
    (full-width letters as letters), without accents, in lower case, split at everything
    but letters and digits; and read once more without formatting tags and Markdown's
    emphasis characters, so that ``<b>Ad</b>a`` and ``Ad*a`` hold the word "ada"."""
    return func.regexp_split_to_table(_folded_readings(text), "[^[:alnum:]]+")


def _folded_readings(text: ColumnElement[str]) -> ColumnElement[str]:
    """``text`` folded as ``_words`` reads it, twice: as written, and without formatting."""
    decomposed = func.normalize(text, literal_column("NFKD"))
    lower = func.lower(func.regexp_replace(decomposed, r"[\u0300-\u036f]", "", "g"))
    # What case-folding does beyond lower case: ß is ss, final sigma is sigma, dotless i is
    # i; the modifier letter apostrophe is an apostrophe (it parts words) and look-alike
    # letters of other alphabets are their Latin letters (as in ``app.journal.text``);
    # and the joiners stored text keeps, which matching ignores, are dropped.
    folded = func.replace(
        func.translate(
            lower,
            "\u03c2\u0131\u02bc" + LOOK_ALIKES + "\u200c\u200d",
            "\u03c3i'" + LATIN_LOOKS,
        ),
        "\u00df",
        "ss",
    )
    joined = func.regexp_replace(folded, r"<[^>]*>|[*_~\\]+", "", "g")
    return func.concat_ws(" ", folded, joined)


# ---------------------------------------------------------------- accounts


# What a purged adult's mentions become: who they were to the child, not a child's "a friend".
ADULT_PLACEHOLDERS = {
    Role.PARENT: "a parent",
    Role.STAFF: "a member of staff",
    Role.MANAGER: "a member of staff",
}


@dataclass(frozen=True)
class Adult:
    """A parent or member of staff to purge: their names as the masking reads a child's
    (the first word of their full name as the given name, the rest as the last name, so
    the full name, each part and the last name alone are all matched), and what their
    mentions become."""

    name: ChildName
    placeholder: str


def _adults(user_ids: list[int]) -> dict[int, Adult]:
    rows = db.session.execute(
        select(User.id, User.full_name, User.role).where(among(User.id, user_ids))
    )
    adults = {}
    for user_id, full_name, role in rows:
        given, _, last = " ".join(full_name.split()).partition(" ")
        adults[user_id] = Adult(ChildName(user_id, given, last), ADULT_PLACEHOLDERS[role])
    return adults


# Where an adult's name may be beyond the texts a child's is looked for in: what managers
# write about anyone (the reasons typed for a deactivation, a deletion or a hold, in the
# audit log, ``TYPED_REASONS``; legal holds' reasons). Only a typed reason: an event's
# other details are codes ("record": "staff"), whatever an adult is called.
_TYPED_REASON_PLACES: dict[str, _Places] = {
    "audit": ((AuditEntry.id, AuditEntry.detail["reason"].astext),),
    "holds": ((LegalHold.id, LegalHold.reason),),
}


@dataclass(frozen=True)
class AdultMentions:
    """Which rows' words may name which parents or staff, found with one scan for them
    all, as ``Mentions`` finds children's (the retention job scans once for every adult
    it is about to purge, then each batch picks its rows from here): the observations'
    texts, the outbox, the reasons managers typed, and the children's names (a name a
    child shares stays the child's)."""

    adults: dict[int, Adult]
    name_words: dict[int, frozenset[str]]
    holding: dict[str, dict[str, frozenset[int]]]  # place -> word -> the rows holding it
    encoded: frozenset[int]  # observations whose words only a reader sees (``Mentions``)

    @classmethod
    def of(cls, user_ids: Iterable[int]) -> AdultMentions:
        return scan_mentions((), user_ids)[1]

    def covers(self, user_ids: Iterable[int]) -> bool:
        return self.adults.keys() >= set(user_ids)

    def naming(self, place: str, user_ids: list[int]) -> dict[int, list[Adult]]:
        """The rows of ``place`` holding a word of one of these adults' names, each with
        the adults whose words it holds (an observation with character references: with
        every one of them)."""
        people = sorted(self.adults.keys() & set(user_ids))
        named = {row: set(people) for row in self.encoded} if place == "observations" else {}
        named = _holding_words_of(self.name_words, self.holding[place], people, named)
        return {
            row: [self.adults[person] for person in sorted(found)] for row, found in named.items()
        }


def scan_mentions(
    child_ids: Iterable[int], user_ids: Iterable[int] = ()
) -> tuple[Mentions, AdultMentions]:
    """The rows whose words may name these children, and these parents or staff: the
    observations' texts and the outbox are read once for all of their words (the job's
    purge of children takes their parents with them: a second pass over every text for
    the parents' words cost the job an eighth of its CPU)."""
    children = names_of_children(among(Child.id, sorted(set(child_ids))))
    adults = _adults(sorted(set(user_ids)))
    child_words = _name_words(children)
    adult_words = _name_words([adult.name for adult in adults.values()]) if adults else {}
    their_words = set().union(*adult_words.values())
    words = set().union(their_words, *child_words.values())
    holding = _texts_holding(words, _TEXT_PLACES)
    messages = _texts_holding(words, _MESSAGE_PLACES)
    names = _texts_holding(words, _NAME_PLACES)
    encoded = _observations_with_references() if children or adults else frozenset()
    elsewhere = {
        place: _texts_holding(words, places) for place, places in _TYPED_REASON_PLACES.items()
    }
    return (
        Mentions(child_words, holding, encoded, messages, names, elsewhere),
        AdultMentions(
            adults,
            adult_words,
            {"observations": holding, "messages": messages, "children": names, **elsewhere},
            encoded,
        ),
    )


def _scrub_adults(
    user_ids: list[int],
    mentions: AdultMentions | None,
    purged: Purged,
    going: Collection[int] = (),
) -> None:
    """Replace, for good, every mention of these adults in what stays (observations'
    text, next steps and review notes, captions, comments, revisions, the audit log's
    details and legal holds' reasons) with their placeholder, as the masking's matcher
    reads them; a name a child shares stays the child's. Outbox messages naming them go,
    as a purged child's do. The journal of a child on legal hold is kept whole, their
    names in it too. ``going``: observations the purge deletes, not worth a scrub.
    """
    if not user_ids:
        return
    if mentions is None or not mentions.covers(user_ids):
        mentions = AdultMentions.of(user_ids)
    masking = _AdultMasking(mentions, user_ids)
    observations = {
        observation: masking.of_adults(adults)
        for observation, adults in mentions.naming("observations", user_ids).items()
        if observation not in going
    }
    if observations:
        texts = db.session.execute(
            select(
                Observation.id, Observation.text, Observation.next_steps, Observation.review_note
            ).where(among(Observation.id, sorted(observations)), ~_in_a_held_journal())
        ).all()
        _write_masked(texts, {row.id: observations[row.id] for row in texts})
        purged.scrubbed += len(texts)
    _write_typed_reasons(
        {
            row: masking.of_adults(adults)
            for row, adults in mentions.naming("holds", user_ids).items()
        },
        {
            row: masking.of_adults(adults)
            for row, adults in mentions.naming("audit", user_ids).items()
        },
    )
    messages = mentions.naming("messages", user_ids)

    def names(message: int, text: str) -> bool:
        # A name a child shares (their parent's surname) is the child's: it stays, and
        # an email naming only the child is no email about the adult.
        return masking.of_adults(messages[message])(text) != text

    _remove_messages_naming(messages, names, purged)


@dataclass
class _AdultMasking:
    """The masks of the adults of one purge: each adult's names as their placeholder,
    but where a child sharing a word of them is named."""

    mentions: AdultMentions
    user_ids: list[int]

    @cached_property
    def sharing(self) -> dict[int, list[ChildName]]:
        """Adult -> the children whose names share a word of theirs (found by the scan),
        their names read the first time a text is to be masked (most purges find none)."""
        found = self.mentions.naming("children", self.user_ids)
        names = {c.id: c for c in names_of_children(among(Child.id, sorted(found)))}
        sharing: dict[int, list[ChildName]] = {}
        for child, adults in found.items():
            for adult in adults:
                if child in names:  # not one purged since the scan
                    sharing.setdefault(adult.name.id, []).append(names[child])
        return sharing

    def of_adults(self, adults: list[Adult]) -> _Mask:
        protected = [child for adult in adults for child in self.sharing.get(adult.name.id, [])]

        def mask(text: _Readable) -> _Readable:
            for placeholder in sorted({adult.placeholder for adult in adults}):
                named = [adult.name for adult in adults if adult.placeholder == placeholder]
                text = mask_people(text, named, placeholder, protected=protected)
            return text

        return mask


def _in_a_held_journal() -> ColumnElement[bool]:
    """Observations of a child on legal hold: the journal is kept whole until the hold is
    lifted (as the comments of a purged adult in it are), an adult's name in it too."""
    held = select(LegalHold.child_id).where(LegalHold.child_id.is_not(None))
    return exists().where(
        ObservationChild.observation_id == Observation.id, ObservationChild.child_id.in_(held)
    )


def _with_reason(detail: dict[str, Any], mask: _Mask) -> dict[str, Any]:
    """An audit entry's details with the reason a manager typed through ``mask``."""
    return {**detail, "reason": mask(detail["reason"])}


def purge_accounts(
    user_ids: Sequence[int],
    record_type: RecordType,
    *,
    by: User | None,
    reason: PurgeReason,
    mentions: AdultMentions | None = None,
) -> LedgerEntry | None:
    """Purge these parents' or staff's accounts (one purge, one ledger entry).
    ``mentions``: a scan made for (at least) these people; None scans for them now."""
    purged = remove_accounts(user_ids, mentions)
    if not purged.count("users"):
        return None
    return _recorded(record_type, purged, by=by, reason=reason)


def remove_accounts(user_ids: Sequence[int], mentions: AdultMentions | None = None) -> Purged:
    """Remove the accounts and everything only theirs, and their names from what stays,
    without a ledger entry."""
    ids = sorted(set(user_ids))
    purged = Purged()
    _scrub_adults(ids, mentions, purged)
    _remove_accounts(ids, purged)
    db.session.expunge_all()
    return purged


def _remove_accounts(user_ids: list[int], purged: Purged) -> None:
    if not user_ids:
        return
    db.session.flush()
    _without_jit()
    accounts = db.session.execute(select(User.id, User.email).where(among(User.id, user_ids))).all()
    unpublished_home = select(Observation.id).where(
        among(Observation.author_id, user_ids),
        Observation.status != ObservationStatus.PUBLISHED,
        Observation.kind == "home",
    )
    home_photos = list(
        db.session.scalars(select(Photo.id).where(Photo.observation_id.in_(unpublished_home)))
    )
    _queue_files(home_photos, purged)
    purged.add("observation_photos", home_photos)
    purged.add(
        "observations", _deleted(delete(Observation).where(Observation.id.in_(unpublished_home)))
    )
    # A journal on legal hold is kept whole: their comments in it stay, unsigned.
    purged.add(
        "observation_comments",
        _deleted(
            delete(Comment).where(
                among(Comment.author_id, user_ids),
                Comment.child_id.not_in(
                    select(LegalHold.child_id).where(LegalHold.child_id.is_not(None))
                ),
            )
        ),
    )
    purged.add(
        "journal_access_log",
        _deleted(delete(JournalAccess).where(among(JournalAccess.viewer_id, user_ids))),
    )
    purged.add(
        "audit_log", _deleted(delete(AuditEntry).where(among(AuditEntry.subject_id, user_ids)))
    )
    # What they did to others' records stays, unsigned (actor_id is SET NULL); the network
    # address they did it from is theirs.
    db.session.execute(
        update(AuditEntry).where(among(AuditEntry.actor_id, user_ids)).values(ip=None)
    )
    purged.add(
        "one_time_links", _deleted(delete(OneTimeLink).where(among(OneTimeLink.user_id, user_ids)))
    )
    purged.add(
        "parent_links", _deleted(delete(ParentLink).where(among(ParentLink.parent_id, user_ids)))
    )
    # Their key-person role and the rows they only signed (reviewed, hid, confirmed) lose
    # the name through the foreign keys' SET NULL.
    _remove_packs(LeavingPack.requested_by_id, user_ids, purged)
    emails = [email for _, email in accounts]
    purged.add(
        "outbox_messages",
        _deleted(
            delete(OutboxMessage).where(
                or_(among(OutboxMessage.user_id, user_ids), OutboxMessage.to_address.in_(emails))
            )
        ),
    )
    purged.add("users", _deleted(delete(User).where(among(User.id, user_ids))))
    slug = current_setting().slug
    end_all_sessions_of_accounts(slug, [user_id for user_id, _ in accounts])
    unsaved.forget_kept(slug, of_users=user_ids)
    forget_rate_limits(slug, {email for _, email in accounts})


def forget_rate_limits(slug: str, emails: Collection[str] | None = None) -> None:
    """Delete the sign-in and reset rate-limit counters of these accounts of the setting
    (keyed ``<slug>:<email>``, see ``app.auth.views``), or of every account of it: one
    scan of the keys, whatever the number of accounts."""
    prefix = f"lj:limits/{slug}:"
    store = get_redis()
    doomed = []
    for key in store.scan_iter(match=f"*{prefix}*", count=1000):
        email = key.decode().split(prefix, 1)[1].split("/", 1)[0]
        if emails is None or email in emails:
            doomed.append(key)
    if doomed:
        store.delete(*doomed)


# ---------------------------------------------------------------- the record of it


def _recorded(
    record_type: RecordType, purged: Purged, *, by: User | None, reason: PurgeReason
) -> LedgerEntry:
    people = purged.rows.get("children" if record_type is RecordType.CHILD else "users", [])
    entry = LedgerEntry.of_current_setting(
        record_type,
        reason=reason,
        subject_id=people[0] if len(people) == 1 else None,
        rows=purged.rows,
        counts={"files": purged.files, "observations_scrubbed": purged.scrubbed},
    )
    append_at_commit(entry)
    audit.record(
        "retention.purged",
        actor=by if by is not None and by.id not in purged.rows.get("users", []) else None,
        record=record_type.value,
        reason=reason.value,
        ledger_entry=entry.id,
        people=len(people),
        # Parents linked to no other child go with the children (not said otherwise).
        parents=purged.count("users") if record_type is RecordType.CHILD else None,
        observations=purged.count("observations"),
        photos=purged.count("observation_photos"),
    )
    return entry
