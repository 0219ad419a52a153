"""How an observation is shown: in full to staff, or in one child's view under the policy.

In one child's view (the parent's pages, the child's journal, its export) the setting's
group-name policy applies to everything that could carry a name: the list of children,
the text and next steps, captions and alt text, comments and file names. Text is masked
as its reader sees it (Markdown read first, see ``app.journal.text.ObservationText``), and
the page's HTML and the JSON's plain text both come from that one masked reading. A photo
in which another family's child without photo consent can be seen is left out of the
view altogether, whatever the policy.

``ChildView.show`` is the one way to show an observation in a child's view: pages, JSON
documents and exports (and any email about an observation) take what it returns. What
it returns cannot leak by construction: the text is masked already, and the rows it
carries (the observation, photos, comments) are ``FamilyView`` wrappers that offer a
template only the facts that cannot name a child (dates, status, areas of learning,
who wrote it); ``item.observation.text`` or a photo's raw caption is simply not there.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from markupsafe import Markup

from app.auth.viewer import Reader, Viewer
from app.journal import listing
from app.journal.journal_page import OpenedJournalPage
from app.journal.listing import Filters, ListedObservation, ListedPhoto
from app.journal.masking import (
    ChildName,
    file_title,
    mask_other_children,
    masked_caption,
    photo_file_name,
)
from app.journal.models import Comment, GroupNamePolicy, Observation, Photo
from app.journal.names import SettingChildren, family_of, name_of, setting_children
from app.journal.photos import family_may_see_photo
from app.journal.policies import group_name_policy
from app.journal.text import ObservationText
from app.kept import Kept
from app.paging import Page, paged
from app.people.models import Child
from tenants.binding import current_setting

FRIEND = "a friend"

# An observation as a child's view reads it: the ORM's, or a journal page's row of columns.
AnyObservation = Observation | ListedObservation
AnyPhoto = Photo | ListedPhoto


class NotInChildsView(Exception):
    """A template or export asked a child's view for what may name another child.

    Not an AttributeError on purpose: Jinja would quietly show nothing, and the mistake
    (a page that needs a field the view does not offer) would go unnoticed.
    """


class FamilyView:
    """A row as one family's view may read it: only the attributes in ``allowed``.

    Anything else (the raw text, next steps, captions, comment bodies, the tagged
    children) raises ``NotInChildsView``: what could name another child reaches a child's
    view only through the masked fields beside it.
    """

    __slots__ = ("_allowed", "_row")

    def __init__(self, row: object, allowed: frozenset[str]) -> None:
        object.__setattr__(self, "_row", row)
        object.__setattr__(self, "_allowed", allowed)

    def __getattr__(self, name: str) -> Any:
        if name in self._allowed:
            return getattr(self._row, name)
        if name.startswith("__"):  # protocols Python and Jinja probe for (__html__ ...)
            raise AttributeError(name)
        raise NotInChildsView(f"{name!r} is not part of a child's view: it may name a child")

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a child's view is read-only")


OBSERVATION_FACTS = frozenset(
    {
        "id",
        "observed_on",
        "kind",
        "status",
        "is_group",
        "is_published",
        "author",
        "author_id",
        "area_names",
        "characteristic_names",
        "age_band_name",
        "created_at",
        "updated_at",
        "published_at",
        "edited_at",
    }
)
PHOTO_FACTS = frozenset({"id", "observation_id", "file_name", "thumbnail_name", "state"})
COMMENT_FACTS = frozenset(
    {
        "id",
        "observation_id",
        "child_id",
        "author",
        "author_id",
        "created_at",
        "edited_at",
        "is_hidden",
    }
)


@dataclass(frozen=True)
class Shown:
    """One text of an observation as a view shows it: the page's HTML, and the plain text
    a reader reads (what JSON documents give); both empty for an empty text."""

    html: Markup
    plain: str

    def __bool__(self) -> bool:
        return bool(self.plain)


@dataclass(frozen=True)
class ShownPhoto:
    photo: Photo  # a FamilyView of it in a child's view
    number: int  # its place among the observation's photos, from 1
    caption: str
    alt: str
    file_name: str


@dataclass(frozen=True)
class ShownComment:
    comment: Comment  # a FamilyView of it in a child's view
    body: str


@dataclass(frozen=True)
class ShownObservation:
    """An observation ready for a template or the JSON export."""

    observation: Observation  # a FamilyView of it in a child's view
    children: str
    text: Shown  # names masked as the view requires
    next_steps: Shown
    photos: list[ShownPhoto]
    left_out_photos: int = 0  # photos this view may not show (photo consent)
    comments: list[ShownComment] = field(default_factory=list)

    def says(self, words: str) -> bool:
        """Whether a reader of this view finds ``words`` in it (the children, the text, the
        next steps, the captions), ignoring case: only what the view shows can be found."""
        seen = [self.children, self.text.plain, self.next_steps.plain]
        seen += [photo.caption for photo in self.photos]
        return _folded(words) in _folded("\n".join(seen))


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# Journals are read far more often than written, and the same observation is shown to
# the same family again and again: keep the latest results of the costly steps (reading
# the Markdown, name masking, sanitising) per process. They are pure functions of their
# arguments, so a cached result is never stale; a few thousand entries are a few MB.
CACHED_TEXTS = 4096


@lru_cache(maxsize=CACHED_TEXTS)
def _in_full(text: str) -> Shown:
    read = ObservationText(text)
    return Shown(read.html, read.text)


@lru_cache(maxsize=CACHED_TEXTS)
def _masked(text: str, shown: ChildName, strangers: tuple[ChildName, ...]) -> Shown:
    read = mask_other_children(ObservationText(text), shown_child=shown, others=strangers)
    return Shown(read.html, read.text)


def _join(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


@dataclass(frozen=True)
class ChildView:
    """One child's view: whose journal it is, whose names always show, and the policy."""

    child: Child
    family: frozenset[int]  # the child, and for a parent their other linked children
    policy: GroupNamePolicy
    everyone: SettingChildren

    @cached_property
    def shown(self) -> ChildName:
        return name_of(self.child)

    @cached_property
    def facts(self) -> Hashable:
        """Everything but the observation that this view's ``show`` depends on: the
        setting, the child, whose names show, the policy, every child's name and consent."""
        everyone = (self.everyone.names, self.everyone.consenting)
        return (current_setting().id, self.shown, self.family, self.policy, everyone)

    @property
    def hides_names(self) -> bool:
        return self.policy is GroupNamePolicy.HIDDEN

    @cached_property
    def strangers(self) -> tuple[ChildName, ...]:
        """Every child of the setting outside this family: the names the policy hides."""
        return tuple(name for name in self.everyone.names if name.id not in self.family)

    def mask(self, text: str) -> str:
        """Plain text (a comment) as this view shows it."""
        if not self.hides_names or not text:
            return text
        return mask_other_children(text, shown_child=self.shown, others=self.strangers)

    def read(self, text: str) -> Shown:
        """An observation's text or next steps as this view shows it."""
        if not self.hides_names:
            return _in_full(text)
        return _masked(text, self.shown, self.strangers)

    def children_label(self, observation: AnyObservation) -> str:
        # Names come from the same list the masking uses (no need to load the tags' rows).
        tagged = [self.everyone.by_id[child_id] for child_id in sorted(observation.child_ids)]
        family = [child.known_as for child in tagged if child.id in self.family]
        others = [child for child in tagged if child.id not in self.family]
        if not self.hides_names:
            return _join(family + [child.known_as for child in others])
        if not others:
            return _join(family)
        friends = FRIEND if len(others) == 1 else f"{len(others)} friends"
        return _join([*family, friends])

    def may_show(self, photo: AnyPhoto) -> bool:
        """Whether every child seen in the photo is of this family or has photo consent."""
        return family_may_see_photo(photo, self.family, self.everyone.consenting)

    def photo(self, observation: AnyObservation, photo: AnyPhoto, number: int) -> ShownPhoto:
        strangers = self.strangers if self.hides_names else ()
        caption = masked_caption(
            photo.caption, shown_child=self.shown, others=strangers, default=""
        )
        return ShownPhoto(
            photo=FamilyView(photo, PHOTO_FACTS),  # type: ignore[arg-type]
            number=number,
            caption=caption,
            alt=caption
            or f"Photo {number} of the observation of {observation.observed_on:%-d %B %Y}",
            file_name=photo_file_name(
                observed_on=observation.observed_on,
                observation_id=observation.id,
                position=number,
                own_child=self.shown,
                title=self._file_title(observation.text),
            ),
        )

    def _file_title(self, text: str) -> str:
        # Masked whatever the group-name policy: a saved file outlives the page it came from.
        shown = _masked(text, self.shown, self.strangers).plain
        return file_title(shown, shown_child=self.shown, others=self.strangers)

    def show(
        self, observation: AnyObservation, comments: Sequence[Comment] = ()
    ) -> ShownObservation:
        numbered = list(enumerate(observation.photos, start=1))
        allowed = [(number, photo) for number, photo in numbered if self.may_show(photo)]
        return ShownObservation(
            observation=FamilyView(observation, OBSERVATION_FACTS),  # type: ignore[arg-type]
            children=self.children_label(observation),
            text=self.read(observation.text),
            next_steps=self.read(observation.next_steps),
            photos=[self.photo(observation, photo, number) for number, photo in allowed],
            left_out_photos=len(numbered) - len(allowed),
            comments=[
                ShownComment(
                    FamilyView(comment, COMMENT_FACTS),  # type: ignore[arg-type]
                    self.mask(comment.body),
                )
                for comment in comments
            ],
        )


def child_view(
    viewer: Reader,
    child: Child,
    family: frozenset[int] | None = None,
    everyone: SettingChildren | None = None,
) -> ChildView:
    """``child``'s view as ``viewer`` reads it: the setting's group-name policy, and the
    children whose names this viewer sees whatever the policy (``family``, and every
    child's name, ``everyone``, when the caller has read them already)."""
    return ChildView(
        child=child,
        family=family_of(viewer, child) if family is None else family,
        policy=group_name_policy(),
        everyone=setting_children() if everyone is None else everyone,
    )


def journal_page_cards(
    view: ChildView, viewer: Viewer, opened: OpenedJournalPage, filters: Filters, cards: Cards
) -> tuple[Page[Any], list[Markup]]:
    """A page of the child's journal as ``view`` shows it: the page (for its numbers) and
    its observations' cards. Words searched for are found in what the view shows (names
    masked as the policy says), so a hidden name finds nothing: a search reads the whole
    journal (``opened`` has no rows then)."""
    if filters.text:
        everything = listing.whole_journal(view.child, viewer, filters)
        found = [row for row in everything if view.show(row).says(filters.text)]
        page = paged(found, opened.number)
    else:
        page = opened.page()
        if opened.past_the_last:  # how many there are, to say which page is the last
            page = paged(listing.whole_journal(view.child, viewer, filters), opened.number)
    return page, cards.of(view, page.items)


# --- cards: an observation as a list shows it, made once -----------------------------------

CardRenderer = Callable[[ChildView, ShownObservation], Markup]


class Cards:
    """Each observation's card (``render``'s HTML of ``ChildView.show``) as one view shows
    it, kept per process for the next page that shows it again, unchanged, in the same view.

    A card is kept under everything it is made from, not under a version number: the
    observation's own facts (``_card_facts``) and the view's (``_view_number``). An edit, a
    withdrawal, a purge's scrub, a child renamed or a consent withdrawn makes a different
    key, so a kept card can never show what changed or was masked since; and a viewer
    whose view differs in anything (another family, another policy, another setting) has
    another key, so never gets another viewer's card. Old keys are simply never asked for
    again and age out.

    In this process, not in Redis: a hit costs a dictionary look-up rather than a round
    trip, and no copy of journal text is stored outside PostgreSQL for a purge to miss (a
    card left behind by an edit or a purge is never asked for again, and goes with the
    process or under newer cards).
    """

    def __init__(self, render: CardRenderer, size: int = 2048) -> None:
        self._render = render
        self._kept: Kept[Markup] = Kept(size)  # ~20 pages of ~100 journals; a card is ~2 KB

    def of(self, view: ChildView, observations: Sequence[AnyObservation]) -> list[Markup]:
        view_number = _view_number(view.facts)
        return [self._card(view, view_number, observation) for observation in observations]

    def _card(self, view: ChildView, view_number: int, observation: AnyObservation) -> Markup:
        key = (view_number, _card_facts(observation))
        return self._kept.get(key, lambda: self._render(view, view.show(observation)))


_view_numbers = itertools.count()


@lru_cache(maxsize=1024)
def _view_number(facts: Hashable) -> int:
    """A small number for a view's facts, the same while they are: a page looks up its
    cards by it, not by hashing every child's name again for each card. An evicted view
    gets a new number, never an old one."""
    return next(_view_numbers)


def _card_facts(observation: AnyObservation) -> Hashable:
    """Everything of an observation that ``ChildView.show`` reads (and a card shows)."""
    return (
        observation.id,
        observation.observed_on,
        observation.kind,
        observation.status,
        observation.author.full_name if observation.author else None,
        observation.edited_at,
        observation.text,
        observation.next_steps,
        tuple(observation.areas),
        tuple(observation.characteristics),
        observation.age_band,
        tuple(sorted(observation.child_ids)),
        tuple(
            (photo.id, photo.caption, tuple(sorted(photo.child_ids)))
            for photo in observation.photos
        ),
    )


def comments_in_full(comments: Sequence[Comment]) -> list[ShownComment]:
    """Staff's view of comments: each body as it was written."""
    return [ShownComment(comment, comment.body) for comment in comments]


def show_in_full(observation: Observation) -> ShownObservation:
    """Staff's view: every name, every photo."""
    return ShownObservation(
        observation=observation,
        children=_join([child.full_name for child in observation.children]),
        text=_in_full(observation.text),
        next_steps=_in_full(observation.next_steps),
        photos=[
            ShownPhoto(
                photo=photo,
                number=number,
                caption=photo.caption,
                alt=photo.caption or f"Photo {number} of the observation",
                file_name=photo_file_name(
                    observed_on=observation.observed_on,
                    observation_id=observation.id,
                    position=number,
                ),
            )
            for number, photo in enumerate(observation.photos, start=1)
        ],
    )


PhotoUrl = Callable[[Photo, str], str]  # (photo, "full" or "thumb") -> its address in this view


def as_json(item: ShownObservation, photo_url: PhotoUrl) -> dict[str, object]:
    """An observation as the JSON documents (one observation, the export) give it."""
    observation = item.observation
    return {
        "id": observation.id,
        "date": observation.observed_on.isoformat(),
        "kind": observation.kind.value,
        "status": observation.status.value,
        "author": observation.author.full_name if observation.author else None,
        "children": item.children,
        "text": item.text.plain,
        "next_steps": item.next_steps.plain,
        "areas": observation.area_names,
        "characteristics": observation.characteristic_names,
        "age_band": observation.age_band_name,
        "edited_at": observation.edited_at.isoformat() if observation.edited_at else None,
        "photos": [
            {
                "url": photo_url(shown.photo, "full"),
                "thumbnail_url": photo_url(shown.photo, "thumb"),
                "caption": shown.caption,
                "alt": shown.alt,
                "file_name": shown.file_name,
            }
            for shown in item.photos
        ],
        "comments": [
            {
                "author": shown.comment.author.full_name if shown.comment.author else None,
                "at": shown.comment.created_at.isoformat(),
                "text": shown.body,
            }
            for shown in item.comments
        ],
    }
