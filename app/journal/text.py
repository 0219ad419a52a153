"""Observation text: cleaning what staff type, rendering it as safe HTML, finding words in it.

Text is plain paragraphs or a small Markdown subset: paragraphs, line breaks, **bold**,
*italic*, bulleted and numbered lists. Nothing else is Markdown here: no links, images,
headings, code or raw HTML; such input is shown as the characters typed. markdown-it-py
renders (HTML disabled), then nh3 keeps only the tags that subset produces, so even a
renderer bug could not let a script, an event handler or a link through.

Finding words (``find_terms``) is shared by the name masking and the content rules: whole
words, case-insensitive with full Unicode case folding ("STRAUSS" finds "Strauß"), in any
script. Scripts written without spaces between words (Chinese, Japanese, Thai, ...) and
Korean, whose particles attach to names, have no word edges to rely on, so terms in them
match anywhere.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
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
_NO_SPACES_SCRIPT = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"
)
_FLAGS = regex.IGNORECASE | regex.FULLCASE | regex.UNICODE


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


def term_key(term: str) -> str:
    """How two spellings of a term compare: NFC, case-folded, one kind of apostrophe,
    hyphens and runs of spaces alike, no invisible characters."""
    text = unicodedata.normalize("NFC", term).translate(_INVISIBLE).casefold()
    text = text.translate(_UNIFY_PUNCTUATION).replace("-", " ")
    return " ".join(text.split())


def term_source(term: str) -> str:
    """Regex source matching ``term`` as a whole word in any of its usual spellings.

    Spaces and hyphens between words match any run of spaces or one hyphen ("Mary Jane",
    "Mary-Jane", "Mary  Jane"); any apostrophe matches another; NFC and NFD forms match.
    Word edges are required only where the term begins or ends with a letter or digit of
    a script that separates words with spaces.
    """
    spellings = {unicodedata.normalize(form, " ".join(term.split())) for form in ("NFC", "NFD")}
    body = "|".join(_spelling_source(spelling) for spelling in sorted(spellings))
    term = " ".join(term.split())
    before = rf"(?<!{_WORD})" if _needs_edge(term[0]) else ""
    after = rf"(?!{_WORD})" if _needs_edge(term[-1]) else ""
    return f"{before}(?:{body}){after}"


def _spelling_source(spelling: str) -> str:
    parts = []
    for ch in spelling:
        if ch == " " or ch in _HYPHENS:
            parts.append(_SEPARATOR)
        elif ch in _APOSTROPHES:
            parts.append(f"[{regex.escape(_APOSTROPHES)}]")
        else:
            parts.append(regex.escape(ch))
    return "".join(parts)


def _needs_edge(ch: str) -> bool:
    return bool(regex.match(_WORD, ch)) and not _NO_SPACES_SCRIPT.match(ch)


def terms_pattern(terms: Iterable[str]) -> str:
    """Regex source for any of ``terms``; where several start at one place, the longest wins."""
    unique = {term_key(t): " ".join(t.split()) for t in terms if t.strip()}
    ordered = sorted(unique.values(), key=lambda t: (-len(t), term_key(t)))
    return "|".join(term_source(term) for term in ordered)


def compile_pattern(source: str) -> regex.Pattern[str]:
    """``source`` compiled case-insensitively with full Unicode case folding."""
    return _compiled(source)


@lru_cache(maxsize=256)
def _compiled(source: str) -> regex.Pattern[str]:
    return regex.compile(source, _FLAGS)


def find_terms(text: str, terms: Iterable[str]) -> list[TermMatch]:
    """Every whole-word occurrence of any of ``terms`` in ``text``, left to right.

    Matches do not overlap; at one position the longest term wins ("Anna Jones" before
    "Anna"). ``term`` in each match is the searched term, as given, that was found.
    """
    by_key = {term_key(t): t for t in terms if t.strip()}
    if not by_key:
        return []
    pattern = compile_pattern(terms_pattern(by_key.values()))
    return [
        TermMatch(
            term=by_key.get(term_key(found.group()), found.group()),
            fragment=found.group(),
            start=found.start(),
            end=found.end(),
        )
        for found in pattern.finditer(text)
    ]
