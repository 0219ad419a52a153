"""Unsuitable-content rules: exactly the matching observations are flagged, where they match."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from app.journal.content_rules import (
    ContentRules,
    Finding,
    Mode,
    Rule,
    check_observation,
    clean_blocked_phrases,
    highlight,
    needs_approval,
)
from app.journal.masking import ChildName
from app.journal.text import ObservationText

AMELIA = ChildName(1, "Amelia", "Jones")
OLIVER = ChildName(2, "Oliver", "Brown", preferred_name="Ollie")
AMELIA_SMITH = ChildName(3, "Amelia", "Smith")
NOAH_JONES = ChildName(4, "Noah", "Jones")
THOMAS = ChildName(5, "Thomas", "Green")
JAMES_THOMAS = ChildName(6, "James", "Thomas")
ZOE = ChildName(7, "Zoë", "Strauß")
CHILDREN = [AMELIA, OLIVER, AMELIA_SMITH, NOAH_JONES, THOMAS, JAMES_THOMAS, ZOE]

BLOCKED = ContentRules(blocked_phrases=("ass", "shut up", "naughty", "Dummkopf"))
SURNAMES = ContentRules(no_surnames=True)
OTHERS = ContentRules(no_other_children_names=True)


def flagged(text: str, rules: ContentRules, tagged=(AMELIA,), photos: int = 0) -> list[str]:
    findings = check_observation(
        text, photo_count=photos, rules=rules, tagged=list(tagged), all_children=CHILDREN
    )
    for finding in findings:
        if finding.start is not None:
            assert text[finding.start : finding.end] == finding.fragment
    return [finding.fragment for finding in findings]


# --- blocked words and phrases --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("Amelia joined the class and passed the ball.", []),
        ("Amelia sat on a cushion of grass; assembly next.", []),
        ("Amelia was an ass about it.", ["ass"]),
        ("ASS! Ass. ass?", ["ASS", "Ass", "ass"]),
        ("Amelia said shut up to the teddy.", ["shut up"]),
        ("Amelia said SHUT   UP.", ["SHUT   UP"]),
        ("Amelia said shut\nup.", ["shut\nup"]),
        ("The door was shut upstairs.", []),
        ("Not naughtyness, not unnaughty", []),
        ("naughty-step", ["naughty"]),
        ("Er sagte DUMMKOPF", ["DUMMKOPF"]),
        ("", []),
    ],
)
def test_blocked_phrases_flag_whole_words_only(text, fragments):
    assert flagged(text, BLOCKED) == fragments


def test_blocked_phrases_say_which_rule_and_where():
    [finding] = check_observation(
        "He is naughty.", photo_count=0, rules=BLOCKED, tagged=[AMELIA], all_children=CHILDREN
    )

    assert finding.rule is Rule.BLOCKED_PHRASE
    assert (finding.fragment, finding.start, finding.end) == ("naughty", 6, 13)
    assert "naughty" in finding.message


def test_blocked_phrases_are_cleaned_and_deduplicated():
    assert clean_blocked_phrases(["  shut   up ", "", "SHUT UP", "Zoe\u0308"]) == ("shut up", "Zoë")


def test_no_phrases_no_findings():
    assert flagged("anything ass at all", ContentRules()) == []


# --- no surnames ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("Amelia built a tower.", []),
        ("Amelia Jones built a tower.", ["Jones"]),  # the tagged child's own surname
        ("She played with Oliver Brown.", ["Brown"]),  # a known child's surname
        ("She drew a brown dog.", ["brown"]),  # a surname that is a word: flagged, it warns
        ("She drew a browny dog.", []),
        ("Frau STRAUSS came", ["STRAUSS"]),
        ("Joneses and Smithy", []),
    ],
)
def test_no_surnames_flags_last_names_of_tagged_and_known_children(text, fragments):
    assert flagged(text, SURNAMES) == fragments


def test_a_surname_that_is_a_tagged_childs_first_name_is_not_flagged():
    # James's surname is Thomas; the observation is about Thomas Green.
    assert flagged("Thomas painted.", SURNAMES, tagged=[THOMAS]) == []
    assert flagged("Thomas painted.", SURNAMES, tagged=[AMELIA]) == ["Thomas"]


# --- no other children's names ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tagged", "fragments"),
    [
        ("Amelia and Oliver built a tower.", [AMELIA], ["Oliver"]),
        ("Amelia and Ollie built a tower.", [AMELIA], ["Ollie"]),
        ("Amelia and Oliver built a tower.", [AMELIA, OLIVER], []),  # both tagged
        ("Amelia and @[Oliver Brown]'s tower", [AMELIA], ["@[Oliver Brown]'s"]),
        ("Amelia and @[Somebody New]", [AMELIA], ["@[Somebody New]"]),
        ("Amelia painted with Amelia.", [AMELIA], []),  # shared first name: cannot tell
        ("Amelia painted with Amelia Smith.", [AMELIA], ["Amelia Smith"]),
        ("Noah came too", [AMELIA], ["Noah"]),
        ("The Jones family", [AMELIA], []),  # Noah's surname is Amelia's too
        ("Olivia and Olive", [AMELIA], []),  # not names of our children
        ("", [AMELIA], []),
    ],
)
def test_no_other_childrens_names_flags_names_of_children_not_tagged(text, tagged, fragments):
    assert flagged(text, OTHERS, tagged=tagged) == fragments


@pytest.mark.parametrize(
    ("source", "fragments"),
    [
        ("Amelia and _Oliver_", ["Oliver"]),
        ("Amelia and __Ollie__", ["Ollie"]),
        ("Amelia and **Oli**ver", ["Oliver"]),
        ("Amelia took Olivers spade", ["Olivers"]),
        ("Amelia took Olivers' spade", ["Olivers'"]),
        ("Amelia and Zo&euml;", ["Zo&euml;"]),
        ("Amelia and Zoes", ["Zoes"]),
        ("Amelia and Zo\u200b\u00eb", ["Zo\u200b\u00eb"]),
    ],
)
def test_other_childrens_names_are_found_in_the_text_as_it_reads(source, fragments):
    shown = ObservationText(source)

    findings = check_observation(
        shown, photo_count=0, rules=OTHERS, tagged=[AMELIA], all_children=CHILDREN
    )

    assert [f.fragment for f in findings] == fragments
    assert all(shown.text[f.start : f.end] == f.fragment for f in findings)


def test_an_observations_findings_are_highlighted_on_the_text_as_it_reads():
    shown = ObservationText("Amelia and **Oli**ver")
    findings = check_observation(
        shown, photo_count=0, rules=OTHERS, tagged=[AMELIA], all_children=CHILDREN
    )

    assert highlight(shown, findings) == Markup(
        "<p>Amelia and <strong><mark>Oli</mark></strong><mark>ver</mark></p>"
    )


def test_other_child_findings_say_which_child():
    findings = check_observation(
        "Amelia and Ollie", photo_count=0, rules=OTHERS, tagged=[AMELIA], all_children=CHILDREN
    )

    assert [(f.rule, f.child_id) for f in findings] == [(Rule.OTHER_CHILD_NAME, OLIVER.id)]


# --- photo limit ----------------------------------------------------------------------


@pytest.mark.parametrize(("photos", "flagged_count"), [(0, 0), (3, 0), (4, 1)])
def test_the_photo_limit_flags_only_more_photos_than_allowed(photos, flagged_count):
    findings = check_observation(
        "Amelia",
        photo_count=photos,
        rules=ContentRules(photo_limit=3),
        tagged=[AMELIA],
        all_children=CHILDREN,
    )

    assert len(findings) == flagged_count
    for finding in findings:
        assert finding.rule is Rule.PHOTO_LIMIT
        assert (finding.fragment, finding.start, finding.end) == ("", None, None)
        assert "4 photos" in finding.message and "3" in finding.message


# --- everything together: exactly the matching observations --------------------------

ALL_RULES = ContentRules(
    blocked_phrases=("ass", "shut up"),
    no_surnames=True,
    no_other_children_names=True,
    photo_limit=2,
)

OBSERVATIONS = [
    # (text, tagged, photos, rules expected to be flagged)
    ("Amelia counted to ten in class.", [AMELIA], 1, set()),
    ("Amelia and Oliver shared the grass patch.", [AMELIA, OLIVER], 2, set()),
    ("Amelia Jones counted.", [AMELIA], 0, {Rule.SURNAME}),
    ("Amelia said shut up.", [AMELIA], 0, {Rule.BLOCKED_PHRASE}),
    ("Amelia and Ollie.", [AMELIA], 0, {Rule.OTHER_CHILD_NAME}),
    ("Amelia painted.", [AMELIA], 3, {Rule.PHOTO_LIMIT}),
    (
        "Amelia and Oliver Brown, what an ass.",
        [AMELIA],
        5,
        {Rule.OTHER_CHILD_NAME, Rule.SURNAME, Rule.BLOCKED_PHRASE, Rule.PHOTO_LIMIT},
    ),
]


@pytest.mark.parametrize(("text", "tagged", "photos", "rules"), OBSERVATIONS)
def test_exactly_the_matching_observations_are_flagged(text, tagged, photos, rules):
    findings = check_observation(
        text, photo_count=photos, rules=ALL_RULES, tagged=tagged, all_children=CHILDREN
    )

    assert {finding.rule for finding in findings} == rules


@pytest.mark.parametrize("mode", list(Mode))
def test_in_either_mode_only_observations_with_findings_are_held(mode):
    rules = ContentRules(blocked_phrases=("ass",), mode=mode)
    held = [
        text
        for text in ("in class", "an ass", "grass", "ASS")
        if needs_approval(
            rules,
            check_observation(text, photo_count=0, rules=rules, tagged=[], all_children=[]),
        )
    ]

    assert held == (["an ass", "ASS"] if mode is Mode.NEEDS_APPROVAL else [])


def test_findings_come_in_text_order_with_the_photo_limit_last():
    text = "Oliver Brown said shut up"

    findings = check_observation(
        text, photo_count=9, rules=ALL_RULES, tagged=[AMELIA], all_children=CHILDREN
    )

    assert [(f.rule, f.fragment) for f in findings] == [
        (Rule.OTHER_CHILD_NAME, "Oliver Brown"),
        (Rule.SURNAME, "Brown"),
        (Rule.BLOCKED_PHRASE, "shut up"),
        (Rule.PHOTO_LIMIT, ""),
    ]


# --- highlighting ---------------------------------------------------------------------


def test_highlight_marks_the_fragments_and_escapes_the_rest():
    text = "<b>Amelia</b> & Oliver Brown said shut up"
    findings = check_observation(
        text, photo_count=9, rules=ALL_RULES, tagged=[AMELIA], all_children=CHILDREN
    )

    html = highlight(text, findings)

    assert isinstance(html, Markup)
    assert html == Markup(
        "&lt;b&gt;Amelia&lt;/b&gt; &amp; <mark>Oliver Brown</mark> said <mark>shut up</mark>"
    )


def test_highlight_escapes_a_fragment_that_is_markup():
    text = "say <script>x</script>"

    html = highlight(text, [Finding(Rule.BLOCKED_PHRASE, "", "<script>", 4, 12)])

    assert html == Markup("say <mark>&lt;script&gt;</mark>x&lt;/script&gt;")


def test_highlight_merges_touching_and_overlapping_marks_and_ignores_bad_offsets():
    findings = [
        Finding(Rule.BLOCKED_PHRASE, "", "bc", 1, 3),
        Finding(Rule.SURNAME, "", "cd", 2, 4),
        Finding(Rule.SURNAME, "", "e", 4, 5),
        Finding(Rule.SURNAME, "", "", 7, 99),
        Finding(Rule.PHOTO_LIMIT, "too many"),
    ]

    assert highlight("abcdefg", findings) == Markup("a<mark>bcde</mark>fg")


def test_highlight_without_findings_is_the_escaped_text():
    assert highlight("a < b", []) == Markup("a &lt; b")
