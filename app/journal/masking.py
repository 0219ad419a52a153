"""The group-name policy: other children's names become "a friend" in one child's view.

With the setting's policy ``hidden``, whoever sees a group observation in the context of
one child (that child's parent, journal or export) must not learn which other children
were in it. ``mask_other_children`` rewrites text for that view; ``masked_caption`` does
the same for photo captions and alt text; ``photo_file_name`` names exported photos
without any child's name but, when allowed, the child's own.

Names are found in the text as its reader sees it: an observation's Markdown is read
first (``app.journal.text.ObservationText``), so ``_Zoë_``, ``__Zoë__`` and ``**Zo**ë`` are
Zoë, and the masking replaces the name there, keeping the formatting around it. Matching
is whole words in any script, ignoring case, accents, Unicode forms, entities, invisible
characters and formatting inside a word (see ``app.journal.text``), so "ZOE", "Zoe" typed
on a phone and "Zo&euml;" are Zoë. ``find_mentions`` is the one matcher: the masking, the
content rule "no other children's names" and anything else that looks for a child's name
(``find_names``, ``mask_names``) use it; so does the purge for a parent's or a member of
staff's names (``mask_people``: their names read as a child's are).

What is masked, for each other child:

- the full name (first or preferred name with the last name), the first name, the
  preferred name, the last name, and each part of a multi-part name ("Mary", "Jane" of
  "Mary Jane"; "García", "López" of "García López"; particles such as "de", "van" alone
  are not parts);
- @mentions: ``@Amelia``, ``@amelia``, ``@[Amelia Jones]``; and any ``@[...]`` mention
  that is not the shown child, even of a name we do not know: it names a child;
- possessives keep their grammar: "Amelia's" (straight or curly apostrophe) becomes
  "a friend's", "James'" becomes "a friend's"; so do a possessive or plural typed without
  an apostrophe ("Zoës", "Zoes", "the Joneses"): they still name the child. At the start
  of a sentence the placeholder gets a capital.

The shown child's own name is kept. When the shown child and another share a name
(both called Amelia, or siblings sharing "Jones"), that shared name alone cannot say
which child is meant, so it is kept, and the other child is masked only where the text
distinguishes them: the other's full name ("Amelia Brown") or another of their names.

Names that are also words ("Rose", "May", "Will", "Brown") are masked as words too: "I
will" becomes "I a friend". The function cannot tell a name from a word, and an awkward
sentence is better than a name shown to another family; the content rule "no other
children's names" points such words out to the author before publishing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TypeVar

import regex

from app.journal.text import (
    APOSTROPHES,
    WORD,
    FoldedText,
    ObservationText,
    Replacement,
    find_in_folded,
    replace_spans,
    term_key,
    terms_pattern,
)

# Lower-case words that join the parts of a name and are not a name on their own.
_PARTICLE_WORDS = (
    "al bin binti da das de degli dei del della der des di do dos du el ibn la las le "
    "les lo los mac st ten ter van von y zu"
)
_PARTICLES = frozenset(_PARTICLE_WORDS.split())
_APOSTROPHE = f"[{regex.escape(APOSTROPHES)}]"
_POSSESSIVE = rf"(?P<possessive>{_APOSTROPHE}s(?!{WORD})|{_APOSTROPHE}(?!{WORD}))?"
_PLURAL = r"(?P<plural>e?s)?"  # "Zoes", "Joneses": the name all the same
_BRACKET_MENTION = r"@\[\s*(?P<inner>[^\[\]\n]{1,100}?)\s*\]"
# Before a word that starts a sentence: the start of the text, a full stop (!, ?, ...), or
# a new line or list item; then perhaps spaces, opening quotes or brackets.
_SENTENCE_START = regex.compile(
    r"(?:\A|[.!?\u2026]|\n[ \t]*(?:[-*+]|\d{1,9}[.)])?)[\s\"'\u201c\u2018(]*\Z"
)
# A zero-width non-joiner parts a Persian name as a space or hyphen parts others.
_NON_JOINER = "\u200c"
_EXPORT_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp"})
_NAME_PARTS = regex.compile(r"[\s\-\u2010\u2011\u200c]+")  # between the parts of a name


@dataclass(frozen=True)
class ChildName:
    """The names of one child, as the masking and the content rules need them."""

    id: int
    first_name: str
    last_name: str
    preferred_name: str | None = None
    former_names: tuple[str, ...] = ()  # names before a correction, still in old texts

    @property
    def known_as(self) -> str:
        """The name used every day: the preferred name when there is one."""
        return self.preferred_name or self.first_name

    @property
    def full_name(self) -> str:
        return f"{self.known_as} {self.last_name}"


@dataclass(frozen=True)
class NameMention:
    """A mention of a child in text: ``text[start:end] == fragment``.

    ``child_id`` is None for an ``@[...]`` mention of a name we do not know. A possessive
    or plural ending ("'s", "'", "s", "es") is part of the span and is given in
    ``possessive``.
    """

    child_id: int | None
    fragment: str
    start: int
    end: int
    possessive: str = ""


def given_names(child: ChildName) -> tuple[str, ...]:
    """The first and preferred names, and the parts of multi-part ones."""
    names = [child.first_name, *([child.preferred_name] if child.preferred_name else [])]
    return _with_parts(names)


def last_names(child: ChildName) -> tuple[str, ...]:
    """The last name, and the parts of a multi-part one ("García", "López")."""
    return _with_parts([child.last_name])


def name_forms(child: ChildName) -> tuple[str, ...]:
    """Every way the text may name the child: full names, given names, last names."""
    givens = [child.first_name, *([child.preferred_name] if child.preferred_name else [])]
    full = [f"{given} {child.last_name}" for given in givens]
    former = _with_parts(child.former_names)
    return _unique([*full, *given_names(child), *last_names(child), *former])


def _with_parts(names: Iterable[str]) -> tuple[str, ...]:
    forms = []
    for name in names:
        forms.append(name)
        if _NON_JOINER in name:  # "محمد‌حسین" is often typed "محمد حسین"
            forms.append(name.replace(_NON_JOINER, " "))
        parts = _NAME_PARTS.split(name.strip())
        if len(parts) > 1:
            forms.extend(p for p in parts if len(p) > 1 and p.casefold() not in _PARTICLES)
    return _unique(forms)


def _unique(forms: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for form in forms:
        cleaned = " ".join(unicodedata.normalize("NFC", form).split())
        if cleaned:
            seen.setdefault(term_key(cleaned), cleaned)
    return tuple(seen.values())


def find_mentions(
    text: str, *, targets: Sequence[ChildName], protected: Sequence[ChildName]
) -> list[NameMention]:
    """Where ``text`` names any of ``targets``, left to right, never by a ``protected`` name.

    A name that a protected child shares with a target is not a mention of the target;
    protected children's names are matched too, so that "Anna" of a protected Anna is
    never read as part of something else. Any ``@[...]`` mention that is not a protected
    child's name is returned, with ``child_id=None`` when it names no target.
    """
    index = _name_index(tuple(targets), tuple(protected))
    mentions = []
    for found, folded in find_in_folded(text, index.source):
        mention = _mention(text, found, folded, index)
        if mention is not None:
            mentions.append(mention)
    return mentions


def names_any(text: str, targets: Sequence[ChildName], protected: Sequence[ChildName] = ()) -> bool:
    """Whether ``text`` names one of ``targets`` (an ``@[...]`` of someone else does not)."""
    return any(
        mention.child_id is not None
        for mention in find_mentions(text, targets=targets, protected=protected)
    )


@dataclass(frozen=True)
class _NameIndex:
    source: str  # the pattern, to run over folded text
    protected_keys: frozenset[str]  # term_key of every protected child's name form
    target_ids: dict[str, int]  # term_key of every other target form -> child id


@lru_cache(maxsize=128)
def _name_index(targets: tuple[ChildName, ...], protected: tuple[ChildName, ...]) -> _NameIndex:
    protected_forms = [form for child in protected for form in name_forms(child)]
    protected_keys = frozenset(term_key(form) for form in protected_forms)
    target_ids: dict[str, int] = {}
    for child in targets:
        for form in name_forms(child):
            if term_key(form) not in protected_keys:
                target_ids.setdefault(term_key(form), child.id)
    # The pattern depends only on all the names together, not on who is protected, so
    # every child's view of one setting shares one compiled pattern.
    names = terms_pattern([*protected_forms, *target_ids], ending=_PLURAL) or r"(?!)"
    source = rf"(?:{_BRACKET_MENTION}|@?(?P<name>{names})){_POSSESSIVE}"
    return _NameIndex(source, protected_keys, target_ids)


def _mention(
    text: str, found: regex.Match[str], folded: FoldedText, index: _NameIndex
) -> NameMention | None:
    """The mention ``found`` stands for, or None when it is a protected child's name."""
    # The key comes from the folded text itself: the original stretch may hold formatting
    # this reading left out ("Bar_ty"). A pattern of names all without word edges (in
    # scripts written without spaces) has no plural ending to allow, nor its group.
    plural = found.groupdict().get("plural") or ""
    if found.group("inner") is not None:
        key = term_key(found.group("inner"))
    else:
        key = term_key(found.group("name")[: len(found.group("name")) - len(plural)])
    if key in index.protected_keys:
        return None
    start, end = folded.span(found.start(), found.end())
    possessive = plural + (found.group("possessive") or "")
    if len(possessive) == 1 and possessive in APOSTROPHES and not key.endswith(("s", "z", "x")):
        end = folded.span(found.start(), found.start("possessive"))[1]
        possessive = ""  # "Amelia'" is a closing quote, not a possessive
    return NameMention(
        child_id=index.target_ids.get(key),
        fragment=text[start:end],
        start=start,
        end=end,
        possessive=possessive,
    )


Text = TypeVar("Text", str, ObservationText)


def mask_other_children(
    text: Text,
    *,
    shown_child: ChildName,
    others: Sequence[ChildName],
    placeholder: str = "a friend",
    kept: Sequence[ChildName] = (),
) -> Text:
    """``text`` as shown in ``shown_child``'s view: every other child named as ``placeholder``.

    ``text`` is plain text (a caption, a comment) or an observation's text as its reader
    sees it; what comes back is of the same kind. ``others`` are the children to hide (at
    least the other tagged children; every other child of the setting hides untagged ones
    too). ``kept`` are further children whose names stay, like the shown child's (a
    brother or sister in the same family's view). Everything but the masked names comes
    back as it was.
    """
    protected = [shown_child, *kept]
    protected_ids = {child.id for child in protected}
    hidden = [child for child in others if child.id not in protected_ids]
    read = text if isinstance(text, str) else text.text
    return _with_placeholder(
        text, find_mentions(read, targets=hidden, protected=protected), placeholder
    )


def _replaced(text: Text, replacements: list[Replacement]) -> Text:
    if isinstance(text, str):
        return replace_spans(text, replacements)
    return text.replaced(replacements)


def find_names(text: str, children: Sequence[ChildName]) -> list[NameMention]:
    """Where ``text`` names any of ``children`` (any of their names), left to right."""
    return find_mentions(text, targets=children, protected=())


def mask_names(
    text: Text,
    children: Sequence[ChildName],
    placeholder: str = "a friend",
    protected: Sequence[ChildName] = (),
) -> Text:
    """``text`` with every name of ``children`` (and every ``@[...]`` mention not of a
    ``protected`` child) as ``placeholder``: for text that must no longer name them at
    all. A name a protected child shares with one of them stays where it is theirs."""
    read = text if isinstance(text, str) else text.text
    mentions = find_mentions(read, targets=children, protected=protected)
    return _with_placeholder(text, mentions, placeholder)


def mask_people(
    text: Text,
    people: Sequence[ChildName],
    placeholder: str,
    *,
    protected: Sequence[ChildName] = (),
) -> Text:
    """``text`` with every name of ``people`` as ``placeholder``, but a name one of the
    ``protected`` shares (a parent's surname their child still here has): for the names
    of adults a purge removes, read as a child's are. Only their names go: an ``@[...]``
    of anyone else is no mention of them, and stays."""
    read = text if isinstance(text, str) else text.text
    mentions = find_mentions(read, targets=people, protected=protected)
    return _with_placeholder(text, [m for m in mentions if m.child_id is not None], placeholder)


def _with_placeholder(text: Text, mentions: list[NameMention], placeholder: str) -> Text:
    """``text`` with each of ``mentions`` (found in what its reader reads) as ``placeholder``."""
    read = text if isinstance(text, str) else text.text
    return _replaced(text, [_masked(read, mention, placeholder) for mention in mentions])


def _masked(text: str, mention: NameMention, placeholder: str) -> Replacement:
    """The placeholder for ``mention``, with its possessive, capitalised to start a sentence."""
    starts_sentence = _SENTENCE_START.search(text, 0, mention.start) is not None
    word = placeholder[:1].upper() + placeholder[1:] if starts_sentence else placeholder
    if mention.possessive:
        apostrophe = mention.possessive[0] if mention.possessive[0] in APOSTROPHES else "'"
        word += apostrophe + "s"
    return Replacement(mention.start, mention.end, word)


def masked_caption(
    caption: str | None,
    *,
    shown_child: ChildName,
    others: Sequence[ChildName],
    placeholder: str = "a friend",
    default: str = "Photo",
    kept: Sequence[ChildName] = (),
) -> str:
    """A photo caption or alt text for ``shown_child``'s view: one line, others masked.

    An empty caption becomes ``default``, so alt text is never empty.
    """
    line = " ".join((caption or "").split())
    if not line:
        return default
    return mask_other_children(
        line, shown_child=shown_child, others=others, placeholder=placeholder, kept=kept
    )


# A photo's file name holds the first words of its observation, up to this many characters.
FILE_TITLE_LENGTH = 32


def file_title(shown_text: str, *, shown_child: ChildName, others: Sequence[ChildName]) -> str:
    """The first words of an observation as its reader sees them (``shown_text``, other
    children's names masked already), for a file name: ASCII, cut between words. Empty
    if, so reduced, they would still read as another child's name: a file name is judged
    as its reader sees it, like the page."""
    kept: list[str] = []
    for word in _ascii_slug(shown_text).split("-"):
        if len("-".join([*kept, word])) > FILE_TITLE_LENGTH:
            break
        kept.append(word)
    words = " ".join(kept)
    if mask_other_children(words, shown_child=shown_child, others=others) != words:
        return ""
    return "-".join(kept)


def photo_file_name(
    *,
    observed_on: date,
    observation_id: int,
    position: int,
    extension: str = "jpg",
    own_child: ChildName | None = None,
    title: str = "",
) -> str:
    """A file name for an exported photo: date, observation and photo number, ASCII only.

    No child's name appears unless ``own_child`` is given: pass the child whose export it
    is, and only when their name may appear. Other children's names cannot be passed:
    ``title`` comes from ``file_title``. Names are reduced to ASCII letters and digits
    ("Zoë" -> "zoe"); a name with nothing left (written in another script) is left out.
    """
    extension = extension.lower().lstrip(".")
    if extension not in _EXPORT_EXTENSIONS:
        raise ValueError(f"not an exported photo's extension: {extension!r}")
    parts = [observed_on.isoformat()]
    if own_child is not None and (name := _ascii_slug(own_child.known_as)):
        parts.append(name)
    if title:
        parts.append(title)
    parts.extend([f"observation-{observation_id}", f"photo-{position}"])
    return "_".join(parts) + f".{extension}"


def name_for_file(name: str) -> str:
    """``name`` as file names of exports carry it: ASCII letters and digits ("Zoë Ó Briain"
    -> "zoe-o-briain"), empty for a name written in another script."""
    return _ascii_slug(name)


def _ascii_slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(regex.findall(r"[a-z0-9]+", ascii_text.lower()))
