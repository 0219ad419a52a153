"""Each setting's unsuitable-content rules, checked when an observation is published.

A manager keeps, per setting: blocked words and phrases, "no surnames", "no other
children's names", a photo limit, and a mode (``warn`` or ``needs_approval``).
``check_observation`` returns one ``Finding`` per match, with offsets into the text so
the page can highlight it (``highlight``); the caller decides, by the mode, whether the
observation is published with a warning or waits for a manager.

Rules look at the text as its reader will see it, like the name masking: an observation's
Markdown is read first (``app.journal.text.ObservationText``), so ``**Zo**ë`` is Zoë to
them too, and findings are offsets into that reading. Matching is the same as the name
masking's (``app.journal.text.find_terms``): whole words, case-insensitive, any script,
so "class" never matches a blocked "ass". Deliberate misspellings ("a.s.s", "a$$") are
not caught: blocked phrases are a guard against slips, not against an author set on
getting round them.

"No surnames" flags the last name of every tagged or known child, except where that name
is also a tagged child's first or preferred name (a tagged "Thomas" may be written while
another child's surname is Thomas). "No other children's names" flags what the masking
would hide from a tagged child's family, with the masking's own matcher
(``find_mentions``): the names of children not tagged (possessives and plurals too),
except names they share with a tagged child, and any ``@[...]`` mention of someone not
tagged.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from app.journal.masking import ChildName, find_mentions, given_names, last_names
from app.journal.text import ObservationText, find_terms, merged_spans, term_key


class Rule(enum.StrEnum):
    """Which rule a finding comes from."""

    BLOCKED_PHRASE = "blocked_phrase"
    SURNAME = "surname"
    OTHER_CHILD_NAME = "other_child_name"
    PHOTO_LIMIT = "photo_limit"


class Mode(enum.StrEnum):
    """What happens to an observation with findings when it is published."""

    WARN = "warn"  # the author is shown the findings; it is published
    NEEDS_APPROVAL = "needs_approval"  # it waits in the manager's review queue


@dataclass(frozen=True)
class ContentRules:
    """One setting's rules. An empty ``blocked_phrases`` and ``photo_limit=None`` check nothing."""

    blocked_phrases: tuple[str, ...] = ()
    no_surnames: bool = False
    no_other_children_names: bool = False
    photo_limit: int | None = None
    mode: Mode = Mode.WARN


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: ``text[start:end] == fragment``, with a message for the author.

    The photo limit has no place in the text: its ``fragment`` is empty and ``start``
    and ``end`` are None.
    """

    rule: Rule
    message: str
    fragment: str = ""
    start: int | None = None
    end: int | None = None
    child_id: int | None = field(default=None, compare=False)


def check_observation(
    shown: str | ObservationText,
    *,
    photo_count: int,
    rules: ContentRules,
    tagged: Sequence[ChildName],
    all_children: Sequence[ChildName],
) -> list[Finding]:
    """Everything in this observation that breaks one of ``rules``, in text order.

    ``shown`` is plain text (a caption) or an observation's text as its reader sees it;
    findings' offsets are into ``shown`` (its ``.text``). ``tagged`` are the children the
    observation is about; ``all_children`` are the setting's children (tagged or not),
    whose names the name rules look for.
    """
    text = shown if isinstance(shown, str) else shown.text
    findings: list[Finding] = []
    findings += _blocked_phrases(text, rules.blocked_phrases)
    if rules.no_surnames:
        findings += _surnames(text, tagged, all_children)
    if rules.no_other_children_names:
        findings += _other_children(text, tagged, all_children)
    findings.sort(key=lambda f: (f.start if f.start is not None else len(text), f.end or 0))
    if rules.photo_limit is not None and photo_count > rules.photo_limit:
        findings.append(
            Finding(
                Rule.PHOTO_LIMIT,
                f"This observation has {photo_count} photos; the limit is {rules.photo_limit}.",
            )
        )
    return findings


def needs_approval(rules: ContentRules, findings: Sequence[Finding]) -> bool:
    """Whether an observation with these findings must wait for a manager's approval."""
    return rules.mode is Mode.NEEDS_APPROVAL and bool(findings)


def clean_blocked_phrases(raw: Iterable[str]) -> tuple[str, ...]:
    """The phrases a manager typed (one per line, say), trimmed, NFC, without repeats."""
    phrases: dict[str, str] = {}
    for line in raw:
        phrase = " ".join(unicodedata.normalize("NFC", line).split())
        if phrase:
            phrases.setdefault(term_key(phrase), phrase)
    return tuple(phrases.values())


def _blocked_phrases(text: str, phrases: Iterable[str]) -> list[Finding]:
    return [
        Finding(
            Rule.BLOCKED_PHRASE,
            f"“{match.fragment}” is on this setting's list of words not to use.",
            match.fragment,
            match.start,
            match.end,
        )
        for match in find_terms(text, clean_blocked_phrases(phrases))
    ]


def _surnames(
    text: str, tagged: Sequence[ChildName], all_children: Sequence[ChildName]
) -> list[Finding]:
    given = {term_key(name) for child in tagged for name in given_names(child)}
    surnames = [
        name
        for child in [*tagged, *all_children]
        for name in last_names(child)
        if term_key(name) not in given
    ]
    return [
        Finding(
            Rule.SURNAME,
            f"“{match.fragment}” looks like a surname; this setting uses first names only.",
            match.fragment,
            match.start,
            match.end,
        )
        for match in find_terms(text, surnames)
    ]


def _other_children(
    text: str, tagged: Sequence[ChildName], all_children: Sequence[ChildName]
) -> list[Finding]:
    tagged_ids = {child.id for child in tagged}
    untagged = [child for child in all_children if child.id not in tagged_ids]
    return [
        Finding(
            Rule.OTHER_CHILD_NAME,
            f"“{mention.fragment}” names a child who is not tagged in this observation.",
            mention.fragment,
            mention.start,
            mention.end,
            mention.child_id,
        )
        for mention in find_mentions(text, targets=untagged, protected=tagged)
    ]


def highlight(shown: str | ObservationText, findings: Iterable[Finding]) -> Markup:
    """``shown`` as the page shows it (plain text escaped, an observation's text rendered),
    with each finding's fragment in ``<mark>``; overlaps become one mark.

    Findings without a place in the text (the photo limit) or whose offsets do not fit
    the text are left out.
    """
    text = shown if isinstance(shown, str) else shown.text
    spans = [
        (f.start, f.end)
        for f in findings
        if f.start is not None and f.end is not None and 0 <= f.start < f.end <= len(text)
    ]
    if isinstance(shown, ObservationText):
        return shown.highlighted(spans)
    pieces: list[str] = []
    position = 0
    for start, end in merged_spans(spans):
        pieces.append(escape(text[position:start]))
        pieces.append(Markup("<mark>{}</mark>").format(text[start:end]))
        position = end
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)
