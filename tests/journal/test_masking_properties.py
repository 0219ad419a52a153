"""Property: however staff write another child's name, it never reaches another family.

Hypothesis writes child B's names (Bartholomew "Barty" Quince) into observations in every
way the renderer accepts and then some: wrapped or split by Markdown emphasis (``_Barty_``,
``__Barty__``, ``**Bar**ty``, ``Bar*ty*``), escaped formatting, typed tags, entities (also
encoded twice), invisible characters, full-width letters, added accents, any case, and
possessive or plural endings with or without an apostrophe. Child A's family's view of
the observation (the text, the next steps, a caption and a comment; the HTML page and the
JSON document) is then normalised the way a reader's eye normalises it (tags and entities
decoded, compatibility forms, accents, case, invisible characters and formatting
characters dropped) and must not contain any of B's names. The normalisation is written
here on its own, not borrowed from the code under test.

``--run-slow`` runs many more examples.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.auth.models import User
from app.extensions import db
from app.journal import comments
from app.journal.content_rules import ContentRules, Rule, check_observation
from app.journal.masking import ChildName, mask_other_children
from app.journal.models import Observation
from app.journal.text import ObservationText, Replacement
from app.people.models import Child
from tests.helpers.journal import B_NAMES, observe, photo_bytes, signed_in
from tests.helpers.people import inside

ADA = ChildName(1, "Ada", "Okafor")
BARTY = ChildName(2, "Bartholomew", "Quince", preferred_name="Barty")
NAMES = (*B_NAMES, "Barty Quince", "Bartholomew Quince")

# Filler words: none of them contains one of B's names, even with its letters joined.
WORDS = ("Ada", "and", "built", "a", "den", "with", "crates", "today", "she", "said", "ran")
AROUND = (" ", "\n", "\n\n", "\n- ", "\n1. ", "  \n", ", ", "! ", ' "', "(")
WRAPS = (
    "*{}*",
    "_{}_",
    "**{}**",
    "__{}__",
    "***{}***",
    "___{}___",
    "**_{}_**",
    "\\_{}\\_",
    "\\*{}\\*",
    "~~{}~~",
    "<b>{}</b>",
    "<em>{}</em>",
)
ENDINGS = ("", "'s", "\u2019s", "s", "es", "'", "\u2019")
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\ufeff", "\ufe0f", "\u034f")


def _letter_as_entity(ch: str, style: int) -> str:
    return (f"&#{ord(ch)};", f"&#x{ord(ch):x};", f"&amp;#{ord(ch)};")[style]


def _full_width(ch: str) -> str:
    return chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch


@st.composite
def disguised_letters(draw: st.DrawFn, word: str) -> str:
    """``word`` in some case, with some letters hidden the ways a reader does not notice."""
    word = draw(st.sampled_from((str.lower, str.upper, str.title, str)))(word)
    letters = []
    for ch in word:
        how = draw(st.integers(0, 12))
        if how == 0:
            letters.append(_letter_as_entity(ch, draw(st.integers(0, 2))))
        elif how == 1:
            letters.append(_full_width(ch))
        elif how == 2:
            letters.append(ch + draw(st.sampled_from(INVISIBLE)))
        elif how == 3:
            letters.append(ch + "\u0301")  # an accent typed on it
        else:
            letters.append(ch)
    return unicodedata.normalize(draw(st.sampled_from(("NFC", "NFD", "NFKC"))), "".join(letters))


@st.composite
def formatted_word(draw: st.DrawFn, word: str) -> str:
    """``word`` split in up to three parts, each perhaps wrapped in formatting."""
    cuts = sorted(draw(st.sets(st.integers(1, len(word) - 1), max_size=2)))
    parts = [word[a:b] for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True)]
    wrapped = [
        draw(st.sampled_from(WRAPS)).format(draw(disguised_letters(part)))
        if draw(st.booleans())
        else draw(disguised_letters(part))
        for part in parts
    ]
    return "".join(wrapped)


@st.composite
def written_name(draw: st.DrawFn) -> str:
    """One of B's names as staff might write it."""
    words = draw(st.sampled_from(NAMES)).split()
    name = " ".join(draw(formatted_word(word)) for word in words)
    if draw(st.booleans()):
        name = draw(st.sampled_from(WRAPS)).format(name)
    return name + draw(st.sampled_from(ENDINGS))


@st.composite
def observation_text(draw: st.DrawFn) -> str:
    """A short text naming B at least once, among words, lines and list items."""
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        pieces.append(" ".join(draw(st.lists(st.sampled_from(WORDS), max_size=3))))
        pieces.append(draw(st.sampled_from(AROUND)))
        pieces.append(draw(written_name()))
        pieces.append(draw(st.sampled_from(AROUND)))
    return "".join(pieces).strip() or "Barty"


def as_a_reader_reads(text: str) -> str:
    """``text`` (HTML, JSON or plain) reduced to the letters a reader takes in."""
    for _ in range(4):  # entities may be encoded more than once
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    text = unicodedata.normalize("NFKD", text).casefold()
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Mn", "Me", "Cf"))
    return re.sub(r"[*_\\~\u034f\u180e]", "", text)


def names_in(text: str) -> list[str]:
    """B's names that start a word of ``text`` as a reader reads it ("Barty", "Bartys")."""
    read = as_a_reader_reads(text)
    return [
        name
        for name in NAMES
        if re.search(rf"(?<![^\W_]){re.escape(as_a_reader_reads(name))}", read)
    ]


# --- the masking itself -------------------------------------------------------------------


def _masked(source: str) -> ObservationText:
    return mask_other_children(ObservationText(source), shown_child=ADA, others=[BARTY])


def _assert_never_shown(source: str) -> None:
    shown = _masked(source)

    assert names_in(shown.html) == [], (source, str(shown.html))
    assert names_in(shown.text) == [], (source, shown.text)


@given(observation_text())
@settings(max_examples=300, deadline=None)
def test_the_masked_text_never_shows_another_childs_name(source):
    _assert_never_shown(source)


@pytest.mark.slow
@given(observation_text())
@settings(max_examples=20_000, deadline=None)
def test_the_masked_text_never_shows_another_childs_name_long_run(source):
    _assert_never_shown(source)


@given(observation_text())
@settings(max_examples=200, deadline=None)
def test_the_author_is_warned_about_exactly_what_would_reach_the_family(source):
    shown = ObservationText(source)

    findings = check_observation(
        shown,
        photo_count=0,
        rules=ContentRules(no_other_children_names=True),
        tagged=[ADA],
        all_children=[ADA, BARTY],
    )

    assert findings, source
    assert all(f.rule is Rule.OTHER_CHILD_NAME and f.child_id == BARTY.id for f in findings)
    assert all(names_in(f.fragment) for f in findings), findings
    # What the author is shown is all there is: hiding just that hides every name.
    warned_about = [Replacement(f.start, f.end, "a friend") for f in findings]
    assert names_in(shown.replaced(warned_about).text) == []


# --- what another family fetches --------------------------------------------------------


def _write_for_both(app, family, text: str, next_steps: str, caption: str) -> int:
    both = [family.child_a_id, family.child_b_id]
    observation_id = observe(
        app,
        family,
        both,
        text,
        next_steps=next_steps,
        photos=[(photo_bytes(48, 32), caption, [family.child_a_id])],
    )
    with inside(app, family.slug):
        comments.add_comment(
            db.session.get_one(Observation, observation_id),
            db.session.get_one(Child, family.child_a_id),
            caption,
            by=db.session.get_one(User, family.staff_id),
        )
        db.session.commit()
    return observation_id


@pytest.fixture
def parent_a(app, family):
    return signed_in(app, family, "parent_a")


@given(text=observation_text(), next_steps=observation_text(), caption=written_name())
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_child_as_family_never_gets_child_bs_name_in_the_page_or_json(
    app, family, parent_a, text, next_steps, caption
):
    observation_id = _write_for_both(app, family, text, next_steps, caption)
    path = f"/journal/children/{family.child_a_id}/observations/{observation_id}"

    page = parent_a.get(path)
    document = parent_a.get(f"{path}.json")

    assert page.status_code == document.status_code == 200
    assert "a friend" in page.text.casefold()
    assert names_in(page.text) == [], (text, next_steps, caption)
    assert names_in(json.dumps(document.get_json(), ensure_ascii=False)) == [], (
        text,
        next_steps,
        caption,
    )
