"""Observations, their photos and comments, the journal access log and the content rules.

Statuses and kinds are ``text_enum`` columns (VARCHAR with a CHECK), like every enum of
a setting's schema.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    orm,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.auth.models import User
from app.journal.content_rules import Mode
from app.labels import LabelledEnum
from app.people.models import Child
from tenants.schema import TenantModel, text_enum

# The seven areas of learning of the EYFS framework (2021).
AREAS_OF_LEARNING: dict[str, str] = {
    "cl": "Communication and Language",
    "pd": "Physical Development",
    "psed": "Personal, Social and Emotional Development",
    "lit": "Literacy",
    "maths": "Mathematics",
    "utw": "Understanding the World",
    "ead": "Expressive Arts and Design",
}
CHARACTERISTICS_OF_LEARNING: dict[str, str] = {
    "playing": "Playing and exploring",
    "active": "Active learning",
    "thinking": "Creating and thinking critically",
}
# The age bands of Development Matters (2021).
AGE_BANDS: dict[str, str] = {
    "birth_to_3": "Birth to three",
    "3_and_4": "Three and four-year-olds",
    "reception": "Children in reception",
}

CODE_LENGTH = 12
TEXT_LENGTH = 20_000
NEXT_STEPS_LENGTH = 5_000
CAPTION_LENGTH = 500
COMMENT_LENGTH = 2_000
PHRASE_LENGTH = 200


class ObservationKind(enum.StrEnum):
    STAFF = "staff"  # written by a member of staff at the setting
    HOME = "home"  # sent by a parent from home; joins the journal once staff accept it


class PhotoState(enum.StrEnum):
    """Where an uploaded photo is on its way to the stored, metadata-free JPEG."""

    WAITING = "waiting"  # the upload's bytes wait, never served, for the display image
    READY = "ready"  # the display image and thumbnail are stored
    FAILED = "failed"  # the upload could not be decoded after all; its bytes are gone


class ObservationStatus(LabelledEnum):
    DRAFT = "draft", "Draft"
    # held for the manager's review, or a home observation for staff's
    IN_REVIEW = "in_review", "Waiting for review"
    PUBLISHED = "published", "Published"
    # a home observation staff did not add to the journal
    DECLINED = "declined", "Not added to the journal"


class GroupNamePolicy(enum.StrEnum):
    """Whether other children's names show in one child's view of a group observation."""

    SHOWN = "shown"
    HIDDEN = "hidden"


class EmailChoice(enum.StrEnum):
    """Whether a parent is emailed when an observation of their child is published."""

    OFF = "off"
    EACH = "each"  # one email for each new observation
    DAILY = "daily"  # one email a day at most, counting what is new


class JournalView(enum.StrEnum):
    JOURNAL = "journal"  # a page of a child's journal
    OBSERVATION = "observation"  # one observation
    EXPORT = "export"  # the child's journal downloaded


# The columns of an observation its tag rows copy (``ObservationChild``).
JOURNAL_KEY = ("observed_on", "status", "kind")


class ObservationFacts:
    """What an observation's columns say in words: for the model, and for an observation
    read as columns (``app.journal.listing.ListedObservation``). Needs ``status``,
    ``areas``, ``characteristics``, ``age_band`` and ``child_ids``."""

    @property
    def is_group(self) -> bool:
        return len(self.child_ids) > 1  # type: ignore[attr-defined]

    @property
    def is_published(self) -> bool:
        return self.status is ObservationStatus.PUBLISHED  # type: ignore[attr-defined]

    @property
    def area_names(self) -> list[str]:
        areas = self.areas  # type: ignore[attr-defined]
        return [AREAS_OF_LEARNING[code] for code in areas if code in AREAS_OF_LEARNING]

    @property
    def characteristic_names(self) -> list[str]:
        return [
            CHARACTERISTICS_OF_LEARNING[code]
            for code in self.characteristics  # type: ignore[attr-defined]
            if code in CHARACTERISTICS_OF_LEARNING
        ]

    @property
    def age_band_name(self) -> str | None:
        return AGE_BANDS.get(self.age_band or "")  # type: ignore[attr-defined]


class Observation(TenantModel, ObservationFacts):
    """What a member of staff (or a parent, from home) saw one child or a group do."""

    __tablename__ = "observations"
    __table_args__ = (
        Index("ix_observations_status_observed_on", "status", "observed_on"),
        Index("ix_observations_areas", "areas", postgresql_using="gin"),
        # What its tag rows copy (``ObservationChild``): their foreign key refers to it.
        UniqueConstraint("id", *JOURNAL_KEY, name="uq_observations_journal_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ObservationKind] = mapped_column(
        text_enum(ObservationKind, "observation_kind"), default=ObservationKind.STAFF
    )
    status: Mapped[ObservationStatus] = mapped_column(
        text_enum(ObservationStatus, "observation_status"), default=ObservationStatus.DRAFT
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    observed_on: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    next_steps: Mapped[str] = mapped_column(Text, default="")
    areas: Mapped[list[str]] = mapped_column(ARRAY(String(CODE_LENGTH)), default=list)
    characteristics: Mapped[list[str]] = mapped_column(ARRAY(String(CODE_LENGTH)), default=list)
    age_band: Mapped[str | None] = mapped_column(String(CODE_LENGTH))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When families first saw it (kept when a withdrawn or held one comes back: not news).
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str] = mapped_column(Text, default="")
    # When it was last corrected after being published: families see it marked "edited".
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    author: Mapped[User | None] = orm.relationship(foreign_keys=[author_id], lazy="joined")
    tags: Mapped[list[ObservationChild]] = orm.relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )
    # Every photo the observation shows: waiting ones too (made on their first fetch), but
    # not one whose upload turned out unreadable (``unreadable_photos``: staff are told).
    photos: Mapped[list[Photo]] = orm.relationship(
        primaryjoin="and_(Photo.observation_id == Observation.id, Photo.state != 'failed')",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Photo.position, Photo.id",
        lazy="selectin",
    )
    unreadable_photos: Mapped[list[Photo]] = orm.relationship(
        primaryjoin="and_(Photo.observation_id == Observation.id, Photo.state == 'failed')",
        order_by="Photo.position, Photo.id",
        viewonly=True,
        lazy="select",
    )

    @property
    def children(self) -> list[Child]:
        return sorted((tag.child for tag in self.tags), key=lambda child: child.id)

    @property
    def child_ids(self) -> set[int]:
        return {tag.child_id for tag in self.tags}

    @property
    def only_staff_have_seen(self) -> bool:
        """A staff draft never published: deleting it is its author's own business.
        Anything else (published once, then withdrawn; held; sent from home) families may
        have seen or sent, so only a manager deletes it, saying why."""
        return (
            self.kind is ObservationKind.STAFF
            and self.status is ObservationStatus.DRAFT
            and self.published_at is None
        )


class ObservationRevision(TenantModel):
    """One correction of an observation that had been published: who, when, what changed.

    ``changes`` lists each changed part as ``{"what": label, "before": text, "after": text}``
    (either side empty when something was added or removed). Only staff and managers see it.
    """

    __tablename__ = "observation_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), index=True
    )
    edited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    editor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    changes: Mapped[list[dict[str, str]]] = mapped_column(JSONB)

    editor: Mapped[User | None] = orm.relationship(lazy="joined")


class ObservationChild(TenantModel):
    """A child an observation is about (one for an individual observation, more for a group).

    The row also carries the observation's date, status and kind (``JOURNAL_KEY``): the
    journal's order and what decides who sees an observation in it. A child's journal
    page is picked from these rows alone, by one range of ``ix_observation_children_
    journal`` (the child, newest first), instead of joining the child's tags with every
    observation of the setting. The database keeps the copy right: the foreign key to the
    observation covers those columns and cascades their updates (``ON UPDATE CASCADE``),
    so publishing, withdrawing, editing the date, a bulk UPDATE or a restore can never
    leave a tag row saying otherwise, and a row inserted with other values is refused.
    The ORM fills them in from the observation when a tag is added (the relationship
    joins on the whole key).
    """

    __tablename__ = "observation_children"
    __table_args__ = (
        ForeignKeyConstraint(
            ["observation_id", *JOURNAL_KEY],
            ["observations.id", *(f"observations.{column}" for column in JOURNAL_KEY)],
            name="fk_observation_children_observation_id_observations",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        # A journal page is a range of it (newest first); status and kind are there for
        # the visibility rule, so picking a page reads the index alone.
        Index(
            "ix_observation_children_journal",
            "child_id",
            text("observed_on DESC"),
            text("observation_id DESC"),
            postgresql_include=["status", "kind"],
        ),
    )

    observation_id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(
        ForeignKey("children.id", ondelete="CASCADE"), primary_key=True
    )
    observed_on: Mapped[date] = mapped_column(Date)
    status: Mapped[ObservationStatus] = mapped_column(
        text_enum(ObservationStatus, "observation_status")
    )
    kind: Mapped[ObservationKind] = mapped_column(text_enum(ObservationKind, "observation_kind"))
    # When the child's family could first see it: published with the child on it, or the
    # child added to it (by a correction) while it was published. What is new in a child's
    # journal reads it (the email for each, the daily email, the home page), so a child
    # added later is news to their family once, and a withdrawal and return is not news.
    in_journal_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    child: Mapped[Child] = orm.relationship(lazy="joined")


class Photo(TenantModel):
    """A photo of an observation, stored as a metadata-free JPEG under a random name."""

    __tablename__ = "observation_photos"
    __table_args__ = (
        # The photo sweep's question, "which photos still wait?", over a handful of rows.
        Index(
            "ix_observation_photos_waiting",
            "created_at",
            postgresql_where=text("state = 'waiting'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str] = mapped_column(String(80), unique=True)
    thumbnail_name: Mapped[str] = mapped_column(String(80), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(Integer)
    caption: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Until READY, the files named above do not exist yet (``app.journal.photo_processing``).
    state: Mapped[PhotoState] = mapped_column(
        text_enum(PhotoState, "photo_state"),
        default=PhotoState.READY,
        server_default=PhotoState.READY.value,  # rows written in bulk (benches, fixtures)
    )
    # Who uploaded it, and the SHA-256 of the bytes they sent: the same bytes sent again by
    # them a moment later are this photo, not a second (``photos.added_a_moment_ago``).
    added_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    upload_digest: Mapped[str | None] = mapped_column(String(64))

    # Who can be seen in the photo: a child without photo consent keeps it out of
    # every other family's view.
    people: Mapped[list[PhotoChild]] = orm.relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    @property
    def child_ids(self) -> set[int]:
        return {person.child_id for person in self.people}


class PhotoChild(TenantModel):
    """A child who can be seen in a photo."""

    __tablename__ = "photo_children"

    photo_id: Mapped[int] = mapped_column(
        ForeignKey("observation_photos.id", ondelete="CASCADE"), primary_key=True
    )
    child_id: Mapped[int] = mapped_column(
        ForeignKey("children.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Comment(TenantModel):
    """A parent's or a member of staff's comment, in one child's view of an observation.

    A comment belongs to one child's view: in a group observation, one family's words
    (which may name their child) are never shown to another family.
    """

    __tablename__ = "observation_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observations.id", ondelete="CASCADE"), index=True
    )
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hidden_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    author: Mapped[User | None] = orm.relationship(foreign_keys=[author_id], lazy="joined")

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class JournalAccess(TenantModel):
    """One view of a child's journal or of an observation: who, when, which child.

    Nothing else is written here: edits and sign-ins go to the audit log.
    """

    __tablename__ = "journal_access_log"
    __table_args__ = (Index("ix_journal_access_log_child_id_at", "child_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    viewer_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"))
    observation_id: Mapped[int | None] = mapped_column(
        ForeignKey("observations.id", ondelete="SET NULL"), index=True
    )
    what: Mapped[JournalView] = mapped_column(text_enum(JournalView, "journal_view"))

    viewer: Mapped[User | None] = orm.relationship(lazy="joined")


class ContentRulesRecord(TenantModel):
    """The setting's unsuitable-content rules: one row, written when a manager first saves them.

    They live in the setting's own schema, not in the registry: the blocked phrases are
    the setting's own words (they may well include family names), and only the
    setting's own pages ever read them.
    """

    __tablename__ = "content_rules"
    __table_args__ = (
        CheckConstraint("id = 1", name="one_row"),
        CheckConstraint("photo_limit IS NULL OR photo_limit >= 0", name="photo_limit_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    mode: Mapped[Mode] = mapped_column(text_enum(Mode, "content_rules_mode"), default=Mode.WARN)
    blocked_phrases: Mapped[list[str]] = mapped_column(ARRAY(String(PHRASE_LENGTH)), default=list)
    no_surnames: Mapped[bool] = mapped_column(Boolean, default=False)
    no_other_children_names: Mapped[bool] = mapped_column(Boolean, default=False)
    photo_limit: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ObservationEmails(TenantModel):
    """A parent's choice of emails about new observations (no row: none). The emails say
    only that there is something new and link to it: no text, no photos."""

    __tablename__ = "observation_emails"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    choice: Mapped[EmailChoice] = mapped_column(text_enum(EmailChoice, "observation_email_choice"))
    # The daily email counts observations published after this moment, then moves it on.
    digest_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
