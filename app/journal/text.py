"""Observation text: cleaning what staff type, showing it as its reader sees it, finding words.

Text is plain paragraphs or a small Markdown subset: paragraphs, line breaks, **bold**,
*italic*, bulleted and numbered lists. Nothing else is Markdown here: no links, images,
headings, code or raw HTML; such input is shown as the characters typed. markdown-it-py
parses, then nh3 keeps only the tags that subset produces, so even a renderer bug could
not let a script, an event handler or a link through.

What a reader reads is not what was typed: ``_Zoë_`` shows as *Zoë*, ``**Zo**ë`` as Zoë.
``ObservationText`` is the one reading of a text: its ``text`` is the words a reader sees
(formatting gone, paragraphs and list items on their own lines), and anything that looks
for words (the name masking, the content rules) looks there; replacing words there and
rendering gives the page (``html``) and the plain text of JSON documents alike.

Finding words (``find_terms``, and the name masking built on ``find_in_folded``) is whole
words in any script, ignoring what does not change what a reader reads: case (full
Unicode case folding: "STRAUSS" finds "Strauß"), accents ("Zoe" typed on a phone finds
"Zoë", "IBRAHIM" finds "İbrahim"), composed, decomposed or compatibility forms (full-width
"Ｚｏë"), invisible characters (zero-width, soft hyphen, joiners, variation selectors,
bidirectional marks), HTML entities ("Zo&euml;", even encoded twice), and formatting
characters or tags inside a word ("Zo**ë", "Zo\\_ë", "<b>Zo</b>ë"). Text and terms are
folded alike (``FoldedText``) and matches are mapped back to offsets in the original text.
Underscores and other joining punctuation are not letters: "_Zoë_" is Zoë. Scripts
written without spaces between words (Chinese, Japanese, Thai, ...) and Korean, whose
particles attach to names, have no word edges to rely on, so terms in them match anywhere.
"""

from __future__ import annotations

import bisect
import copy
import html
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import nh3
import regex
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

_MARKDOWN = MarkdownIt(
    "zero", {"html": False, "breaks": True, "linkify": False, "typographer": False}
).enable(["emphasis", "list", "newline", "escape"])

# Exactly the tags _MARKDOWN can produce; "start" numbers a list that begins at 3.
ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "ul", "ol", "li"})
ALLOWED_ATTRIBUTES = {"ol": {"start"}}
_HIGHLIGHT_TAG = "mark"  # what the content rules' findings are wrapped in, for the author

# Invisible characters that would split a word (a name) without showing: soft hyphen,
# zero-width space, word joiner, BOM, Mongolian vowel separator; and bidirectional
# overrides, which reorder what is shown. Stored text keeps zero-width (non-)joiners:
# Persian, Indic scripts and emoji need them (matching ignores them, see _fold_char).
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u200b\u2060\ufeff\u180e\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)

APOSTROPHES = "'\u2019\u02bc\u2018`"
_LETTER_APOSTROPHE = "\u02bc"  # the modifier letter apostrophe (Ukrainian keyboards type it)
# Lower-case letters of other alphabets a reader cannot tell from a Latin one (from
# Unicode's confusables): matching reads each as that Latin letter, in names and text
# alike, so a name typed with a keyboard switched mid-word, or pasted, is still found.
# The purge's scan in SQL reads them so too (``app.retention.purge``).
LOOK_ALIKES = (
    "\u0430\u0441\u0435\u043e\u0440\u0445\u0443\u0456"  # Cyrillic
    "\u0458\u0455\u04bb\u0501\u051b\u051d\u04cf"
    "\u03bf\u03b9\u03bd\u03ba\u03c1\u03c7\u03c5"  # Greek
    "\u1d20"  # small capital V
)
LATIN_LOOKS = "aceopxyijshdqwloivkpxuv"
_AS_LATIN = str.maketrans(LOOK_ALIKES, LATIN_LOOKS)
_HYPHENS = "-\u2010\u2011\u2012\u2013"
_UNIFY_PUNCTUATION = str.maketrans(
    APOSTROPHES + _HYPHENS, "'" * len(APOSTROPHES) + "-" * len(_HYPHENS)
)
# Between two words of a term: spaces or a hyphen ("Mary Jane" is also "Mary-Jane").
# One set and no group: it matches what ``(?:\s+|\s*-\s*)`` does (spaces, or one hyphen
# with spaces around it or not), but a group in every full name was half the time of
# compiling a setting's pattern of names (a purge compiles one per group it scrubs).
_SEPARATOR = rf"\s*[\s{regex.escape(_HYPHENS)}]\s*"
# A character of a word: letters, combining marks, digits; not "_" nor joiners.
WORD = r"[\p{L}\p{M}\p{N}]"
_WORD_CHAR = regex.compile(WORD)
_NO_SPACES_SCRIPT = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"
)


def clean_observation_text(raw: str) -> str:
    """Text as it should be stored: NFC, ``\\n`` line ends, no control or invisible characters.

    Tabs and line breaks are kept; trailing spaces on each line and blank lines at either
    end are removed. Storing NFC lets offsets found later index the text as shown.
    """
    text = without_invisible(raw.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def without_invisible(text: str) -> str:
    """``text`` in NFC without the invisible characters that could split a word unseen."""
    return unicodedata.normalize("NFC", text).translate(_INVISIBLE)


def _sanitised(rendered: str, *, highlights: bool = False) -> Markup:
    tags = set(ALLOWED_TAGS) | ({_HIGHLIGHT_TAG} if highlights else set())
    # Markup() is safe here: nh3 has just reduced the HTML to the allowed tags.
    return Markup(  # noqa: S704
        nh3.clean(
            rendered,
            tags=tags,
            attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
            url_schemes=set(),
            strip_comments=True,
            link_rel=None,
        ).strip()
    )


# --- the text a reader sees ------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    """Put ``by`` in place of ``[start, end)`` of a text as its reader sees it."""

    start: int
    end: int
    by: str


@dataclass(frozen=True)
class _Piece:
    """A stretch of the text a reader sees: ``token``'s content, or a fixed line break,
    list marker or paragraph break (``token`` None) that no replacement changes."""

    start: int
    text: str
    token: Token | None

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def _pieces(tokens: Sequence[Token]) -> list[_Piece]:
    """The text of parsed Markdown as it reads: paragraphs apart by a blank line, list items
    and line breaks on lines of their own, "- " or "1. " before each list item."""
    pieces: list[_Piece] = []
    pending = ""  # the break owed before the next words, once there are words before them
    depth = 0

    def add(text: str, token: Token | None = None) -> None:
        nonlocal pending
        length = pieces[-1].end if pieces else 0
        if pending and length:
            pieces.append(_Piece(length, pending, None))
            length += len(pending)
        pending = ""
        pieces.append(_Piece(length, text, token))

    def owe(gap: str) -> None:
        nonlocal pending
        pending = max(pending, gap, key=len)

    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
            owe("\n" if depth else "\n\n")
        elif token.type == "list_item_open":
            owe("\n")
            add("  " * (depth - 1) + (f"{token.info}{token.markup} " if token.info else "- "))
        elif token.type == "paragraph_close":
            owe("\n" if token.hidden else "\n\n")
        elif token.type == "inline":
            for child in token.children or []:
                if child.type == "text":
                    add(child.content, child)
                elif child.type in ("softbreak", "hardbreak"):
                    add("\n")
    return pieces


class ObservationText:
    """Observation text (stored Markdown) as its reader sees it.

    ``text`` is what a reader reads, in plain text; ``html`` is the page's safe HTML.
    ``replaced`` puts other words in place of stretches of ``text``, keeping the
    formatting around them: in ``**Zo**ë`` replacing "Zoë" gives ``**a friend**``.
    """

    def __init__(self, source: str) -> None:
        self._tokens = _MARKDOWN.parse(source)

    @classmethod
    def _of_tokens(cls, tokens: list[Token]) -> ObservationText:
        shown = cls.__new__(cls)
        shown._tokens = tokens
        return shown

    @cached_property
    def text(self) -> str:
        return "".join(piece.text for piece in _pieces(self._tokens))

    @cached_property
    def html(self) -> Markup:
        return _rendered(self._tokens)

    def replaced(self, replacements: Iterable[Replacement]) -> ObservationText:
        """This text with each replacement's stretch of ``text`` replaced (they must not
        overlap). The formatting and line breaks the stretch spans stay; its new words go
        where its first word was."""
        tokens = _copied(self._tokens)
        words = [piece for piece in _pieces(tokens) if piece.token is not None]
        ends = [piece.end for piece in words]
        edits: dict[int, list[tuple[Replacement, bool]]] = {}
        for replacement in sorted(replacements, key=lambda r: r.start):
            first = index = bisect.bisect_right(ends, replacement.start)
            while index < len(words) and words[index].start < replacement.end:
                edits.setdefault(index, []).append((replacement, index == first))
                index += 1
        for index, in_piece in edits.items():
            token = words[index].token
            assert token is not None
            token.content = _edited(words[index], in_piece)
        return ObservationText._of_tokens(tokens)

    def highlighted(self, spans: Iterable[tuple[int, int]]) -> Markup:
        """The page's HTML with the stretches ``spans`` of ``text`` in ``<mark>``."""
        tokens = _copied(self._tokens)
        marks = merged_spans(spans)
        marked: dict[int, list[tuple[int, int]]] = {}  # id of a text token -> its marks
        for piece in _pieces(tokens):
            if piece.token is not None:
                marked[id(piece.token)] = [
                    (max(start, piece.start) - piece.start, min(end, piece.end) - piece.start)
                    for start, end in marks
                    if start < piece.end and end > piece.start
                ]
        for token in tokens:
            if token.type == "inline" and token.children:
                token.children = [
                    part
                    for child in token.children
                    for part in _marked(child, marked.get(id(child), []))
                ]
        return _rendered(tokens, highlights=True)


def _copied(tokens: Sequence[Token]) -> list[Token]:
    """Copies of parsed tokens whose text and children can change without touching these
    (a deep copy costs several times the parse)."""
    copies = []
    for token in tokens:
        duplicate = copy.copy(token)
        if token.children is not None:
            duplicate.children = [copy.copy(child) for child in token.children]
        copies.append(duplicate)
    return copies


def _rendered(tokens: Sequence[Token], *, highlights: bool = False) -> Markup:
    return _sanitised(
        _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}), highlights=highlights
    )


def _edited(piece: _Piece, replacements: Sequence[tuple[Replacement, bool]]) -> str:
    """``piece``'s text with the replacements that touch it (each with whether its new
    words go in this piece, at the replacement's start)."""
    parts, position = [], 0
    for replacement, with_words in replacements:
        start = max(replacement.start - piece.start, 0)
        parts.append(piece.text[position:start])
        if with_words:
            parts.append(replacement.by)
        position = min(replacement.end - piece.start, len(piece.text))
    parts.append(piece.text[position:])
    return "".join(parts)


def _marked(token: Token, marks: Sequence[tuple[int, int]]) -> list[Token]:
    if not marks:
        return [token]
    parts, position = [], 0
    for start, end in marks:
        parts.append(_text_token(token.content[position:start]))
        if start < end:
            parts.append(Token(f"{_HIGHLIGHT_TAG}_open", _HIGHLIGHT_TAG, 1))
            parts.append(_text_token(token.content[start:end]))
            parts.append(Token(f"{_HIGHLIGHT_TAG}_close", _HIGHLIGHT_TAG, -1))
        position = end
    parts.append(_text_token(token.content[position:]))
    return [part for part in parts if part.type != "text" or part.content]


def _text_token(content: str) -> Token:
    return Token("text", "", 0, content=content)


def replace_spans(text: str, replacements: Iterable[Replacement]) -> str:
    """Plain ``text`` with each replacement's stretch replaced (they must not overlap)."""
    parts, position = [], 0
    for replacement in sorted(replacements, key=lambda r: r.start):
        parts += [text[position : replacement.start], replacement.by]
        position = replacement.end
    parts.append(text[position:])
    return "".join(parts)


def merged_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` sorted, with touching and overlapping ones joined into one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# --- finding words -----------------------------------------------------------------------


@dataclass(frozen=True)
class TermMatch:
    """Where one of the searched terms occurs: ``text[start:end] == fragment``."""

    term: str
    fragment: str
    start: int
    end: int


_IGNORED = regex.compile(r"\p{Default_Ignorable_Code_Point}")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """One character as matching sees it: compatibility-decomposed (full-width Z is Z), without
    Latin/Greek/Cyrillic accents or invisible characters, case-folded, dotless i as i, a
    Cyrillic or Greek look-alike as its Latin letter (``LOOK_ALIKES``)."""
    if ch == _LETTER_APOSTROPHE:
        # A letter to the regex's word edges: "Zoë" + U+02BC + "s" would be one word.
        return "'"
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", ch).casefold())
    kept = "".join(c for c in folded if not _is_accent(c) and not _is_invisible(c))
    return kept.replace("\u0131", "i").translate(_AS_LATIN)


def _is_invisible(ch: str) -> bool:
    return ord(ch) in _INVISIBLE or bool(_IGNORED.match(ch))


def _is_accent(ch: str) -> bool:
    return "\u0300" <= ch <= "\u036f"  # Combining Diacritical Marks (not Indic vowel signs)


# An HTML character reference, as html.unescape reads it (decoded again and again: a
# reader's HTML may decode "&amp;euml;" once more).
_ENTITY = regex.compile(r"&(?:#[0-9]{1,8};?|#[xX][0-9a-fA-F]{1,7};?|[A-Za-z][A-Za-z0-9]{1,31};?)")
# Plain formatting tags, typed as text: "<b>Zo</b>ë" still reads Zoë.
_FORMATTING_TAGS = regex.compile(
    r"</?(?:a|abbr|b|big|cite|code|del|dfn|em|font|i|ins|kbd|mark|q|s|samp|small|span"
    r"|strike|strong|sub|sup|tt|u|var)\s*/?>"
)
# Markdown's emphasis, strikethrough and escape characters between two letters: "Zo*ë"
# may be Zoë with a star in it, "Zoë_Strauß" two names joined. Such text is read both ways.
_INSIDE_WORD = regex.compile(rf"(?<={WORD})[*_~\\]+(?={WORD})")


@dataclass(frozen=True)
class FoldedText:
    """Text as matching compares it, and for each of its characters the stretch of the
    original text it came from (``starts``/``ends``: a decoded entity is several
    characters long; an accent folds to nothing)."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    original: str

    @classmethod
    def of(cls, original: str) -> FoldedText:
        text, starts, ends = original, list(range(len(original))), list(range(1, len(original) + 1))
        while _ENTITY.search(text):
            decoded = _decoded_entities(text, starts, ends)
            if decoded[0] == text:
                break
            text, starts, ends = decoded
        text, starts, ends = _per_char(text, starts, ends)
        text, starts, ends = _without(_FORMATTING_TAGS, text, starts, ends)
        return cls(text, tuple(starts), tuple(ends), original)

    def joined(self) -> FoldedText | None:
        """This text read with the formatting characters inside words left out ("Zo*ë" as
        Zoë), or None when it has none."""
        if not _INSIDE_WORD.search(self.text):
            return None
        text, starts, ends = _without(_INSIDE_WORD, self.text, list(self.starts), list(self.ends))
        return FoldedText(text, tuple(starts), tuple(ends), self.original)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that folded ``[start, end)`` came from.

        It runs on over what folded to nothing (an accent, an invisible character) up to
        the next character that did not.
        """
        following = self.starts[end] if end < len(self.starts) else len(self.original)
        return self.starts[start], max(self.ends[end - 1], following)


Mapped = tuple[str, list[int], list[int]]


def _decoded_entities(text: str, starts: list[int], ends: list[int]) -> Mapped:
    pieces, new_starts, new_ends, position = [], [], [], 0
    for found in _ENTITY.finditer(text):
        decoded = html.unescape(found.group())
        if decoded == found.group():
            continue
        pieces.append(text[position : found.start()])
        new_starts += starts[position : found.start()]
        new_ends += ends[position : found.start()]
        pieces.append(decoded)
        new_starts += [starts[found.start()]] * len(decoded)
        new_ends += [ends[found.end() - 1]] * len(decoded)
        position = found.end()
    pieces.append(text[position:])
    return "".join(pieces), new_starts + starts[position:], new_ends + ends[position:]


def _per_char(text: str, starts: list[int], ends: list[int]) -> Mapped:
    if text.isascii():  # most text: folding is lower case, one character for one
        return text.lower(), starts, ends
    pieces, new_starts, new_ends = [], [], []
    for index, ch in enumerate(text):
        folded = _fold_char(ch)
        pieces.append(folded)
        if len(folded) == 1:
            new_starts.append(starts[index])
            new_ends.append(ends[index])
        else:
            new_starts += [starts[index]] * len(folded)
            new_ends += [ends[index]] * len(folded)
    return "".join(pieces), new_starts, new_ends


def _without(pattern: regex.Pattern[str], text: str, starts: list[int], ends: list[int]) -> Mapped:
    if not pattern.search(text):
        return text, starts, ends
    keep = [True] * len(text)
    for found in pattern.finditer(text):
        keep[found.start() : found.end()] = [False] * (found.end() - found.start())
    return (
        "".join(ch for ch, kept in zip(text, keep, strict=True) if kept),
        [s for s, kept in zip(starts, keep, strict=True) if kept],
        [e for e, kept in zip(ends, keep, strict=True) if kept],
    )


def fold(text: str) -> str:
    """``text`` as matching compares it (see ``FoldedText``): "ZOË" and "Zoe" are "zoe"."""
    return FoldedText.of(text).text


@lru_cache(maxsize=4096)
def term_key(term: str) -> str:
    """How two spellings of a term compare: folded, one kind of apostrophe, hyphens and
    runs of spaces alike."""
    text = fold(term).translate(_UNIFY_PUNCTUATION).replace("-", " ")
    return " ".join(text.split())


def _term_source(term: str) -> str:
    """Regex source for folded ``term`` in folded text, with word edges where it needs them.

    Spaces and hyphens between words match any run of spaces or one hyphen ("Mary Jane",
    "Mary-Jane", "Mary  Jane"); any apostrophe matches another. Word edges are required
    only where the term begins or ends with a letter or digit of a script that separates
    words with spaces.
    """
    before = rf"(?<!{WORD})" if _needs_edge(term[0]) else ""
    after = rf"(?!{WORD})" if _needs_edge(term[-1]) else ""
    return f"{before}(?:{_spelling_source(term)}){after}"


def _spelling_source(term: str) -> str:
    parts = []
    for ch in term:
        if ch == " " or ch in _HYPHENS:
            parts.append(_SEPARATOR)
        elif ch in APOSTROPHES:
            parts.append(f"[{regex.escape(APOSTROPHES)}]")
        else:
            parts.append(regex.escape(ch))
    return "".join(parts)


def separated_by_spaces(term: str) -> bool:
    """Whether ``term`` is written in scripts that separate words with spaces: a text
    holding it holds its words, as splitting at spaces and punctuation finds them."""
    return not _NO_SPACES_SCRIPT.search(term)


@lru_cache(maxsize=4096)
def _needs_edge(ch: str) -> bool:
    return bool(_WORD_CHAR.match(ch)) and not _NO_SPACES_SCRIPT.match(ch)


def terms_pattern(terms: Iterable[str], ending: str = "") -> str:
    """Regex source matching any of ``terms`` in folded text; at one place the longest wins.

    ``ending`` (regex source) may follow a term that ends a word before the word's edge:
    the name masking allows "s" and "es" there ("Zoes"). The same terms and ending
    always give the same source, so its compiled pattern is reused.
    """
    unique = {term_key(t): t for t in terms if t.strip()}
    return _terms_pattern(tuple(sorted(unique, key=lambda key: (-len(key), key))), ending)


@lru_cache(maxsize=256)
def _terms_pattern(keys: tuple[str, ...], ending: str) -> str:
    # Terms with word edges on both sides (nearly all) share one pair of edge checks:
    # a pattern with a lookaround per term compiles several times slower.
    words = [k for k in keys if _needs_edge(k[0]) and _needs_edge(k[-1])]
    others = [_term_source(k) for k in keys if not (_needs_edge(k[0]) and _needs_edge(k[-1]))]
    if words:
        body = "|".join(_spelling_source(k) for k in words)
        others.insert(0, rf"(?<!{WORD})(?:{body}){ending}(?!{WORD})")
    return "|".join(others)


@lru_cache(maxsize=256)
def compile_pattern(source: str) -> regex.Pattern[str]:
    """``source`` compiled, once, to run over ``fold``-ed text."""
    return regex.compile(source)


def find_in_folded(text: str, source: str) -> list[tuple[regex.Match[str], FoldedText]]:
    """Matches of ``source`` in ``text`` folded, left to right, each with the folded text
    to map its span back. Text with formatting characters inside words is read both ways
    (see ``FoldedText.joined``); where matches of the two readings overlap, the one that
    starts first, then the longest, is kept."""
    pattern = compile_pattern(source)
    folded = FoldedText.of(text)
    found = [(match, folded) for match in pattern.finditer(folded.text)]
    joined = folded.joined()
    if joined is None:
        return found
    found += [(match, joined) for match in pattern.finditer(joined.text)]
    kept: list[tuple[regex.Match[str], FoldedText]] = []
    end = 0
    for match, reading in sorted(found, key=lambda pair: _original_order(*pair)):
        start, stop = reading.span(*match.span())
        if start >= end:
            kept.append((match, reading))
            end = stop
    return kept


def _original_order(match: regex.Match[str], reading: FoldedText) -> tuple[int, int]:
    start, end = reading.span(*match.span())
    return start, -end


def find_terms(text: str, terms: Iterable[str]) -> list[TermMatch]:
    """Every whole-word occurrence of any of ``terms`` in ``text``, left to right.

    Case, accents (é, ö, İ), Unicode forms, entities, invisible characters and formatting
    inside a word do not matter. Matches do not overlap; at one position the longest term
    wins ("Anna Jones" before "Anna"). ``term`` in each match is the searched term, as
    given, that was found.
    """
    by_key = {term_key(t): t for t in terms if t.strip()}
    if not by_key:
        return []
    matches = []
    for found, folded in find_in_folded(text, terms_pattern(by_key.values())):
        start, end = folded.span(found.start(), found.end())
        fragment = text[start:end]
        term = by_key.get(term_key(fragment), fragment)
        matches.append(TermMatch(term=term, fragment=fragment, start=start, end=end))
    return matches
