"""Observation text: the Markdown subset renders, everything else is shown inert."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from app.journal.text import (
    ALLOWED_TAGS,
    ObservationText,
    Replacement,
    clean_observation_text,
    find_terms,
)


def rendered(text: str) -> Markup:
    return ObservationText(text).html


def tags_in(html: str) -> set[str]:
    return {tag.lower() for tag in re.findall(r"</?\s*([a-zA-Z][\w-]*)", html)}


# --- the subset -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Amelia built a tower.", "<p>Amelia built a tower.</p>"),
        ("First paragraph.\n\nSecond one.", "<p>First paragraph.</p>\n<p>Second one.</p>"),
        ("Line one\nline two", "<p>Line one<br>\nline two</p>"),
        ("She was **very** proud", "<p>She was <strong>very</strong> proud</p>"),
        ("*carefully* and _slowly_", "<p><em>carefully</em> and <em>slowly</em></p>"),
        ("- blocks\n- sand", "<ul>\n<li>blocks</li>\n<li>sand</li>\n</ul>"),
        ("1. count\n2. sort", "<ol>\n<li>count</li>\n<li>sort</li>\n</ol>"),
        ("3. third\n4. fourth", '<ol start="3">\n<li>third</li>\n<li>fourth</li>\n</ol>'),
        ("2 \\* 3 = 6", "<p>2 * 3 = 6</p>"),
    ],
)
def test_the_markdown_subset_renders(text: str, html: str):
    assert rendered(text) == Markup(html)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("# Not a heading", "# Not a heading"),
        ("> not a quote", "&gt; not a quote"),
        ("`not code`", "`not code`"),
        ("[a link](https://example.org)", "[a link](https://example.org)"),
        ("![an image](https://example.org/x.png)", "![an image](https://example.org/x.png)"),
        ("<https://example.org>", "&lt;https://example.org&gt;"),
        ("Fish &amp; chips", "Fish &amp;amp; chips"),
    ],
)
def test_markdown_outside_the_subset_is_shown_as_typed(text: str, shown: str):
    assert rendered(text) == Markup(f"<p>{shown}</p>")


def test_the_output_is_markup_so_templates_do_not_escape_it_again():
    assert isinstance(rendered("**hi**"), Markup)


# --- XSS --------------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "<javascript:alert(1)>",
    '**<b onmouseover="alert(1)">bold</b>**',
    "<iframe src=//evil.example></iframe>",
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">',
    "<!--<script>alert(1)</script>-->",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<scr<script>ipt>alert(1)</script>",
    '"><script>alert(1)</script>',
    "- <img src=x onerror=alert(1)>\n- *<svg onload=alert(1)>*",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payloads_render_inert(payload: str):
    html = str(rendered(payload))

    assert tags_in(html) <= ALLOWED_TAGS
    assert not re.search(r"<[^>]*\s(on\w+|href|src|style)\s*=", html, re.IGNORECASE)
    assert not re.search(r"<[^>]*javascript:", html, re.IGNORECASE)
    assert "<script" not in html.lower()


def test_a_script_tag_is_shown_as_text_not_dropped():
    html = str(rendered("I typed <script>alert(1)</script> by mistake"))

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_javascript_link_is_plain_text():
    assert rendered("[x](javascript:alert(1))") == Markup("<p>[x](javascript:alert(1))</p>")


# --- cleaning what was typed ------------------------------------------------------------


def test_cleaning_normalises_line_ends_controls_and_unicode():
    raw = "  Zoe\u0308 played\r\nwith\x00 sand\x07\t \r\n\r\n"

    assert clean_observation_text(raw) == "  Zoë played\nwith sand"


def test_cleaning_removes_invisible_characters_that_split_words():
    assert clean_observation_text("Ame\u200blia and Oli\u00adver \u202eevil") == (
        "Amelia and Oliver evil"
    )


def test_cleaning_keeps_joiners_that_scripts_and_emoji_need():
    text = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \U0001f468\u200d\U0001f469"

    assert clean_observation_text(text) == text


# --- finding words ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms", "found"),
    [
        ("The class sat down", ["ass"], []),
        ("Passing the ball", ["ass"], []),
        ("You ass!", ["ass"], ["ass"]),
        ("ASS", ["ass"], ["ASS"]),
        ("a bad   word here", ["bad word"], ["bad   word"]),
        ("a bad\nword here", ["bad word"], ["bad\nword"]),
        ("badword", ["bad word"], []),
        ("Anna and Ann", ["Ann"], ["Ann"]),
        ("Anna Jones", ["Anna", "Anna Jones"], ["Anna Jones"]),
        ("Herr STRAUSS", ["Strauß"], ["STRAUSS"]),
        ("ZOË and Zoë", ["zoë"], ["ZOË", "Zoë"]),
        ("Zoe\u0308 came", ["Zoë"], ["Zoe\u0308"]),  # decomposed e + diaeresis
        ("Zoe came", ["Zoë"], ["Zoe"]),  # typed without the accent
        ("Zoë came", ["Zoe"], ["Zoë"]),
        ("IBRAHIM and Yilmaz", ["İbrahim", "Y\u0131lmaz"], ["IBRAHIM", "Yilmaz"]),
        ("Zoe\u200b and Zo\u200be", ["Zoe"], ["Zoe\u200b", "Zo\u200be"]),
        ("O\u2019Brien and O'Brien", ["O'Brien"], ["O\u2019Brien", "O'Brien"]),
        ("Mary-Jane and Mary - Jane", ["Mary Jane"], ["Mary-Jane", "Mary - Jane"]),
        ("Mary Jane", ["Mary-Jane"], ["Mary Jane"]),
        ("Mary", ["Mary-Jane"], []),
        ("Anne-Marie and Anne\u2013Marie", ["Anne-Marie"], ["Anne-Marie", "Anne\u2013Marie"]),
        ("Amelia's coat", ["Amelia"], ["Amelia"]),
        ("Amelia2", ["Amelia"], []),
        ("Олег и Оля", ["оля"], ["Оля"]),
        ("Олегу", ["Олег"], []),
        ("अनिल और अनिला", ["अनिल"], ["अनिल"]),  # a vowel sign after it continues the word
        ("小明和小红", ["小明"], ["小明"]),  # no spaces between Chinese words
        ("민준이랑 놀았다", ["민준"], ["민준"]),  # a Korean particle attached to the name
        ("blocked f***", ["f***"], ["f***"]),
        # what does not change how it reads: formatting, entities, Unicode forms, joiners
        ("_Zoë_ and Zo**ë**", ["Zoë"], ["Zoë", "Zo**ë"]),
        ("Zo\\_ë", ["Zoë"], ["Zo\\_ë"]),
        ("Zo&euml; and Zo&amp;euml;", ["Zoë"], ["Zo&euml;", "Zo&amp;euml;"]),
        ("<b>Zo</b>ë", ["Zoë"], ["Zo</b>ë"]),
        (
            "\uff3a\uff4f\u00eb and Zo\u200d\u00eb",
            ["Zoë"],
            ["\uff3a\uff4f\u00eb", "Zo\u200d\u00eb"],
        ),
        ("Zoë_Strauß", ["Zoë"], ["Zoë"]),  # an underscore is not a letter
    ],
)
def test_find_terms_matches_whole_words_only(text: str, terms: list[str], found: list[str]):
    assert [match.fragment for match in find_terms(text, terms)] == found


@given(st.text(alphabet=" \t\n-\u2010\u2013x", max_size=6))
def test_a_terms_words_are_parted_by_spaces_or_one_hyphen(between: str):
    # As the person typing may part them: any run of spaces, or one hyphen with spaces
    # around it or not; never nothing, two hyphens or another character.
    parted = (
        between != ""
        and "x" not in between
        and sum(between.count(hyphen) for hyphen in "-\u2010\u2013") <= 1
    )

    found = find_terms(f"Mary{between}Jane came", ["Mary Jane"])

    assert [match.fragment for match in found] == ([f"Mary{between}Jane"] if parted else [])


def test_find_terms_gives_offsets_into_the_text_and_the_term_searched():
    text = "Then ANNA JONES and Ann"

    matches = find_terms(text, ["Ann", "Anna Jones"])

    assert [(m.term, m.start, m.end) for m in matches] == [("Anna Jones", 5, 15), ("Ann", 20, 23)]
    assert all(text[m.start : m.end] == m.fragment for m in matches)


def test_find_terms_ignores_empty_terms():
    assert find_terms("anything at all", ["", "  "]) == []


# --- the text a reader sees ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("Amelia built a tower.", "Amelia built a tower."),
        ("She was **very** _proud_", "She was very proud"),
        ("**Zo**ë and \\*stars\\*", "Zoë and *stars*"),
        ("Line one\nline two", "Line one\nline two"),
        ("First.\n\nSecond.", "First.\n\nSecond."),
        ("Count:\n\n1. one\n2. two\n\nDone", "Count:\n\n1. one\n2. two\n\nDone"),
        ("- sand\n  - wet sand\n- water", "- sand\n  - wet sand\n- water"),
        ("Fish &amp; chips <b>", "Fish &amp; chips <b>"),
    ],
)
def test_the_text_a_reader_sees_has_no_formatting(source: str, text: str):
    assert ObservationText(source).text == text


def test_replacing_words_keeps_the_formatting_around_them():
    shown = ObservationText("Ada and **Zo**ë\n\n- _Zoë_ too")
    zoes = [index for index in range(len(shown.text)) if shown.text.startswith("Zoë", index)]

    replaced = shown.replaced(Replacement(start, start + 3, "a friend") for start in zoes)

    assert replaced.text == "Ada and a friend\n\n- a friend too"
    assert replaced.html == Markup(
        "<p>Ada and <strong>a friend</strong></p>\n<ul>\n<li><em>a friend</em> too</li>\n</ul>"
    )
    assert shown.text == "Ada and Zoë\n\n- Zoë too"  # the original is unchanged


def test_a_replacement_that_spans_formatting_goes_where_its_first_word_was():
    shown = ObservationText("Zo**ë** <script>")

    assert shown.replaced([Replacement(0, 3, "a friend")]).html == Markup(
        "<p>a friend<strong></strong> &lt;script&gt;</p>"
    )


def test_highlighting_marks_stretches_of_the_text_across_formatting():
    shown = ObservationText("Ada and **Zo**ë & <i>")

    assert shown.highlighted([(8, 11)]) == Markup(
        "<p>Ada and <strong><mark>Zo</mark></strong><mark>ë</mark> &amp; &lt;i&gt;</p>"
    )
