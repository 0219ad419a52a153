"""Observation text: cleaning what staff type, rendering it as safe HTML, finding words in it.

Text is plain paragraphs or a small Markdown subset: paragraphs, line breaks, **bold**,
*italic*, bulleted and numbered lists. Nothing else is Markdown here: no links, images,
headings, code or raw HTML; such input is shown as the characters typed. markdown-it-py
renders (HTML disabled), then nh3 keeps only the tags that subset produces, so even a
renderer bug could not let a script, an event handler or a link through.

Finding words (``find_terms``) is shared by the name masking and the content rules: whole
words in any script, ignoring case (full Unicode case folding: "STRAUSS" finds "Strauß"),
accents ("Zoe" typed on a phone finds "Zoë", "IBRAHIM" finds "İbrahim"), composed or
decomposed characters and invisible characters. Text and terms are folded alike
(``fold``) and matches are mapped back to offsets in the original text. Scripts written
without spaces between words (Chinese, Japanese, Thai, ...) and Korean, whose particles
attach to names, have no word edges to rely on, so terms in them match anywhere.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import nh3
import regex
from markdown_it import MarkdownIt
from markupsafe import Markup

_MARKDOWN = MarkdownIt(
    "zero", {"html": False, "breaks": True, "linkify": False, "typographer": False}
).enable(["emphasis", "list", "newline", "escape"])

# Exactly the tags _MARKDOWN can produce; "start" numbers a list that begins at 3.
ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "ul", "ol", "li"})
ALLOWED_ATTRIBUTES = {"ol": {"start"}}

# Invisible characters that would split a word (a name) without showing: soft hyphen,
# zero-width space, word joiner, BOM, Mongolian vowel separator; and bidirectional
# overrides, which reorder what is shown. Zero-width (non-)joiners are kept: Persian,
# Indic scripts and emoji need them.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u200b\u2060\ufeff\u180e\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)

_APOSTROPHES = "'\u2019\u02bc\u2018`"
_HYPHENS = "-\u2010\u2011\u2012\u2013"
_UNIFY_PUNCTUATION = str.maketrans(
    _APOSTROPHES + _HYPHENS, "'" * len(_APOSTROPHES) + "-" * len(_HYPHENS)
)
# Between two words of a term: spaces or a hyphen ("Mary Jane" is also "Mary-Jane").
_SEPARATOR = rf"(?:\s+|\s*[{regex.escape(_HYPHENS)}]\s*)"
_WORD = r"[\w\p{M}]"  # regex's \w already covers letters, marks, digits and joiners
_WORD_CHAR = regex.compile(_WORD)
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


def render_observation_text(text: str) -> Markup:
    """Safe HTML for observation text: the Markdown subset rendered, everything else inert."""
    html = _MARKDOWN.render(text)
    # Markup() is safe here: nh3 has just reduced the HTML to ALLOWED_TAGS.
    return Markup(  # noqa: S704
        nh3.clean(
            html,
            tags=set(ALLOWED_TAGS),
            attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
            url_schemes=set(),
            strip_comments=True,
            link_rel=None,
        ).strip()
    )


# --- finding words -----------------------------------------------------------------------


@dataclass(frozen=True)
class TermMatch:
    """Where one of the searched terms occurs: ``text[start:end] == fragment``."""

    term: str
    fragment: str
    start: int
    end: int


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """One character as matching sees it: decomposed, without Latin/Greek/Cyrillic accents
    or invisible characters, case-folded, dotless i as i."""
    if ord(ch) in _INVISIBLE:
        return ""
    decomposed = "".join(c for c in unicodedata.normalize("NFD", ch) if not _is_accent(c))
    return decomposed.casefold().replace("\u0131", "i")


def _is_accent(ch: str) -> bool:
    return "\u0300" <= ch <= "\u036f"  # Combining Diacritical Marks (not Indic vowel signs)


def fold(text: str) -> str:
    """``text`` as matching compares it (see ``_fold_char``): "ZOË" and "Zoe" are "zoe"."""
    return "".join(_fold_char(ch) for ch in text)


@dataclass(frozen=True)
class FoldedText:
    """Folded text, and for each of its characters the index it came from."""

    text: str
    origin: tuple[int, ...]
    length: int  # of the original text

    @classmethod
    def of(cls, text: str) -> FoldedText:
        pieces, origin = [], []
        for index, ch in enumerate(text):
            folded = _fold_char(ch)
            pieces.append(folded)
            origin.extend([index] * len(folded))
        return cls("".join(pieces), tuple(origin), len(text))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that folded ``[start, end)`` came from.

        It runs on over what folded to nothing (an accent, an invisible character) up to
        the next character that did not.
        """
        following = self.origin[end] if end < len(self.origin) else self.length
        return self.origin[start], max(self.origin[end - 1] + 1, following)


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
    before = rf"(?<!{_WORD})" if _needs_edge(term[0]) else ""
    after = rf"(?!{_WORD})" if _needs_edge(term[-1]) else ""
    return f"{before}(?:{_spelling_source(term)}){after}"


def _spelling_source(term: str) -> str:
    parts = []
    for ch in term:
        if ch == " " or ch in _HYPHENS:
            parts.append(_SEPARATOR)
        elif ch in _APOSTROPHES:
            parts.append(f"[{regex.escape(_APOSTROPHES)}]")
        else:
            parts.append(regex.escape(ch))
    return "".join(parts)


@lru_cache(maxsize=4096)
def _needs_edge(ch: str) -> bool:
    return bool(_WORD_CHAR.match(ch)) and not _NO_SPACES_SCRIPT.match(ch)


def terms_pattern(terms: Iterable[str]) -> str:
    """Regex source matching any of ``terms`` in folded text; at one place the longest wins.

    The same set of terms always gives the same source, so its compiled pattern is reused.
    """
    unique = {term_key(t): t for t in terms if t.strip()}
    return _terms_pattern(tuple(sorted(unique, key=lambda key: (-len(key), key))))


@lru_cache(maxsize=256)
def _terms_pattern(keys: tuple[str, ...]) -> str:
    # Terms with word edges on both sides (nearly all) share one pair of edge checks:
    # a pattern with a lookaround per term compiles several times slower.
    words = [k for k in keys if _needs_edge(k[0]) and _needs_edge(k[-1])]
    others = [_term_source(k) for k in keys if not (_needs_edge(k[0]) and _needs_edge(k[-1]))]
    if words:
        body = "|".join(_spelling_source(k) for k in words)
        others.insert(0, rf"(?<!{_WORD})(?:{body})(?!{_WORD})")
    return "|".join(others)


@lru_cache(maxsize=256)
def compile_pattern(source: str) -> regex.Pattern[str]:
    """``source`` compiled, once, to run over ``fold``-ed text."""
    return regex.compile(source)


def find_in_folded(text: str, source: str) -> Iterator[tuple[regex.Match[str], FoldedText]]:
    """Matches of ``source`` in ``text`` folded, with the folded text to map spans back."""
    folded = FoldedText.of(text)
    for found in compile_pattern(source).finditer(folded.text):
        yield found, folded


def find_terms(text: str, terms: Iterable[str]) -> list[TermMatch]:
    """Every whole-word occurrence of any of ``terms`` in ``text``, left to right.

    Case, accents (é, ö, İ), canonical composition and invisible characters do not
    matter. Matches do not overlap; at one position the longest term wins ("Anna Jones"
    before "Anna"). ``term`` in each match is the searched term, as given, that was found.
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
