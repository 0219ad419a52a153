"""The group-name policy: in one child's view, other children are "a friend"."""

from __future__ import annotations

from datetime import date

import pytest
from markupsafe import Markup

from app.journal.masking import (
    ChildName,
    file_title,
    find_mentions,
    find_names,
    mask_names,
    mask_other_children,
    masked_caption,
    name_forms,
    photo_file_name,
)
from app.journal.text import ObservationText

AMELIA = ChildName(1, "Amelia", "Jones")
OLIVER = ChildName(2, "Oliver", "Brown", preferred_name="Ollie")
AMELIA_SMITH = ChildName(3, "Amelia", "Smith")
NOAH_JONES = ChildName(4, "Noah", "Jones")  # Amelia's brother
ANN = ChildName(5, "Ann", "Lee")
ANNA = ChildName(6, "Anna", "Lee")
ROSE = ChildName(7, "Rose", "May")
WILL = ChildName(8, "Will", "Baker")
ZOE = ChildName(9, "Zoë", "Strauß")
JOSE = ChildName(10, "José", "García López")
OLEG = ChildName(11, "Олег", "Иванов")
MING = ChildName(12, "小明", "王")
ANIL = ChildName(13, "अनिल", "शर्मा")
SIOBHAN = ChildName(14, "Siobhán", "O'Brien")
JAMES = ChildName(15, "James", "Ross")
MARY_JANE = ChildName(16, "Mary Jane", "Watson")
AISHA = ChildName(17, "عائشة", "حسن")
MOHAMMAD_HOSSEIN = ChildName(18, "محمد\u200cحسین", "حسینی\u200cنیک")


def masked(text: str, shown: ChildName = AMELIA, *others: ChildName) -> str:
    return mask_other_children(text, shown_child=shown, others=list(others) or [OLIVER])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # every name form of the other child
        ("Amelia and Oliver built a tower.", "Amelia and a friend built a tower."),
        ("Amelia and Ollie built a tower.", "Amelia and a friend built a tower."),
        ("Amelia and Oliver Brown played.", "Amelia and a friend played."),
        ("Amelia and Ollie Brown played.", "Amelia and a friend played."),
        ("The Brown twins came.", "The a friend twins came."),
        # case-insensitive, whole words only
        ("OLIVER and oliver", "A friend and a friend"),
        ("Oliverio and Olivia and Brownie", "Oliverio and Olivia and Brownie"),
        # a possessive or plural without an apostrophe is the name all the same
        ("Olivers coat and the Browns", "A friend's coat and the a friend's"),
        ("Brownies and Oliveres", "Brownies and a friend's"),
        # mentions
        ("Played with @Oliver today", "Played with a friend today"),
        ("Played with @oliver today", "Played with a friend today"),
        ("Played with @[Oliver Brown] today", "Played with a friend today"),
        ("Played with @[ Ollie ] today", "Played with a friend today"),
        ("Played with @[Someone Unknown] today", "Played with a friend today"),
        ("Played with @Someone today", "Played with @Someone today"),
        # possessives, sentence starts
        ("She took Oliver's spade", "She took a friend's spade"),
        ("She took Oliver\u2019s spade", "She took a friend\u2019s spade"),
        # the modifier letter apostrophe (Ukrainian keyboards) is a letter to a regex
        ("She took Oliver\u02bcs spade", "She took a friend's spade"),
        ("She took @[Oliver Brown]'s spade", "She took a friend's spade"),
        ("Oliver laughed.", "A friend laughed."),
        ("Look! Oliver laughed. Then oliver ran", "Look! A friend laughed. Then a friend ran"),
        ("Amelia:\nOliver joined", "Amelia:\nA friend joined"),
        ('She said "Oliver, come!"', 'She said "a friend, come!"'),
        ("'Oliver' she said", "'A friend' she said"),
        # the shown child's own name and mention stay
        (
            "@Amelia and @[Amelia Jones] and Amelia's hat",
            "@Amelia and @[Amelia Jones] and Amelia's hat",
        ),
        # invisible characters cannot hide a name
        ("Oli\u200bver and Oli\u00adver", "A friend and a friend"),
        ("OL\u0130VER and Oli\u0301ver", "A friend and a friend"),
    ],
)
def test_other_children_become_a_friend(text: str, expected: str):
    assert masked(text) == expected


@pytest.mark.parametrize(
    "written",
    [
        "\u041eliver",  # Cyrillic capital O
        "Ol\u0456v\u0435r",  # Cyrillic i and e
        "Oli\u03bder",  # Greek nu for v
        "OLIV\u0415R",  # Cyrillic capital E
        "Oli\u1d20er",  # small capital v
    ],
)
def test_a_name_written_with_look_alike_letters_of_another_script_is_masked(written):
    """A reader sees Oliver, whichever alphabet each of its letters came from (a keyboard
    switched mid-word, a name pasted from elsewhere)."""
    assert masked(f"Amelia and {written} played.") == "Amelia and a friend played."


def test_a_cyrillic_name_written_with_latin_look_alikes_is_masked_too():
    assert masked("Amelia and O\u043be\u0433 played.", AMELIA, OLEG) == (
        "Amelia and a friend played."
    )


@pytest.mark.parametrize("written", ["Dar\u02bcya", "Dar'ya", "Dar\u2019ya", "DAR\u02bcYA"])
def test_a_name_written_with_the_modifier_letter_apostrophe_is_masked_however_typed(written):
    darya = ChildName(19, "Dar\u02bcya", "Koval")
    assert masked(f"Amelia and {written} played.", AMELIA, darya) == "Amelia and a friend played."


def test_an_s_ending_name_gets_a_full_possessive():
    assert (
        masked("James' coat and James's hat", AMELIA, JAMES) == "A friend's coat and a friend's hat"
    )


def test_every_other_child_is_masked_and_the_shown_child_kept():
    text = "Amelia, Oliver and Noah Jones shared the paint. Noah's brush broke."

    assert masked(text, AMELIA, OLIVER, NOAH_JONES) == (
        "Amelia, a friend and a friend shared the paint. A friend's brush broke."
    )


def test_the_shown_child_in_the_others_list_is_still_kept():
    assert masked("Amelia and Oliver", AMELIA, AMELIA, OLIVER) == "Amelia and a friend"


def test_a_brother_or_sister_kept_in_the_familys_view_keeps_a_shared_name():
    oliver_jones = ChildName(30, "Oliver", "Jones")

    text = mask_other_children(
        "Oliver, Oliver Jones and Oliver Brown",
        shown_child=AMELIA,
        others=[OLIVER],
        kept=[oliver_jones],
    )

    assert text == "Oliver, Oliver Jones and a friend"


def test_a_placeholder_of_ones_own_choice():
    assert (
        mask_other_children(
            "Oliver helped", shown_child=AMELIA, others=[OLIVER], placeholder="another child"
        )
        == "Another child helped"
    )


# --- shared names: only what tells the children apart is masked ----------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Amelia and Amelia Smith painted.", "Amelia and a friend painted."),
        ("Amelia Jones and Amelia Smith", "Amelia Jones and a friend"),
        ("@[Amelia Smith] and @Amelia", "A friend and @Amelia"),
        ("Smith and Amelia", "A friend and Amelia"),
        ("Amelia painted with Amelia.", "Amelia painted with Amelia."),  # cannot tell
    ],
)
def test_when_both_are_called_amelia_only_the_distinguishing_names_are_masked(text, expected):
    assert masked(text, AMELIA, AMELIA_SMITH) == expected


def test_a_shared_surname_stays_and_the_siblings_other_names_go():
    text = "The Jones children: Noah Jones and Amelia. Noah helped."

    assert masked(text, AMELIA, NOAH_JONES) == (
        "The Jones children: a friend and Amelia. A friend helped."
    )


def test_ann_and_anna_are_different_names():
    assert masked("Ann and Anna and ANNA", ANN, ANNA) == "Ann and a friend and a friend"
    assert masked("Ann and Anna and ANN", ANNA, ANN) == "A friend and Anna and a friend"


def test_a_sibling_shares_the_surname_but_not_the_full_name():
    assert masked("Ann Lee and Anna Lee", ANN, ANNA) == "Ann Lee and a friend"


# --- accents and scripts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("other", "text", "expected"),
    [
        (ZOE, "Amelia and Zoë", "Amelia and a friend"),
        (ZOE, "Amelia and ZOË", "Amelia and a friend"),
        (ZOE, "Amelia and Zoe\u0308", "Amelia and a friend"),  # decomposed
        (ZOE, "Amelia and Zoe", "Amelia and a friend"),  # typed without the accent
        (ZOE, "the STRAUSS family", "the a friend family"),
        (JOSE, "José García López and jose", "A friend and a friend"),
        (
            ChildName(40, "İbrahim", "Y\u0131lmaz"),
            "IBRAHIM, ibrahim, Yilmaz",
            "A friend, a friend, a friend",
        ),
        (JOSE, "JOSÉ, García and López", "A friend, a friend and a friend"),
        (OLEG, "Амелия и Олег. Олег смеялся", "Амелия и a friend. A friend смеялся"),
        (OLEG, "Олегу помогли", "Олегу помогли"),  # an inflected form is another word
        (MING, "小明和Amelia玩", "A friend和Amelia玩"),  # no spaces in Chinese
        (ANIL, "अनिल और अनिला", "A friend और अनिला"),
        (SIOBHAN, "Siobhán O\u2019Brien and SIOBHÁN", "A friend and a friend"),
        (SIOBHAN, "the O'Briens", "the a friend's"),  # a plural names the family
        (AISHA, "لعبت عائشة مع Amelia", "لعبت a friend مع Amelia"),
        (MARY_JANE, "Mary-Jane, Mary and Jane", "A friend, a friend and a friend"),
        # A Persian name joined by a zero-width non-joiner is often typed with a space, or
        # with nothing, instead: each way, and each of its parts, names the child.
        (MOHAMMAD_HOSSEIN, "Amelia و محمد\u200cحسین", "Amelia و a friend"),
        (MOHAMMAD_HOSSEIN, "Amelia و محمدحسین", "Amelia و a friend"),
        (MOHAMMAD_HOSSEIN, "Amelia و محمد حسین", "Amelia و a friend"),
        (MOHAMMAD_HOSSEIN, "Amelia و حسین", "Amelia و a friend"),
        (MOHAMMAD_HOSSEIN, "Amelia و حسینی", "Amelia و a friend"),
    ],
)
def test_names_in_any_script_are_masked_as_whole_words(other, text, expected):
    assert masked(text, AMELIA, other) == expected


# --- names that are also words ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rose and Will played", "A friend and a friend played"),
        ("Will you help? The sun rose in May.", "A friend you help? The sun a friend in a friend."),
        ("She will, she may", "She a friend, she a friend"),
        ("Willow and Rosemary and Maybe", "Willow and Rosemary and Maybe"),
    ],
)
def test_names_that_are_words_are_masked_as_words_too_erring_on_privacy(text, expected):
    assert masked(text, AMELIA, ROSE, WILL) == expected


# --- mentions as data ------------------------------------------------------------------


def test_find_mentions_gives_child_and_offsets():
    text = "Amelia, @[Oliver Brown]'s bucket and Smith"

    mentions = find_mentions(text, targets=[OLIVER, AMELIA_SMITH], protected=[AMELIA])

    assert [(m.child_id, m.fragment, m.possessive) for m in mentions] == [
        (OLIVER.id, "@[Oliver Brown]'s", "'s"),
        (AMELIA_SMITH.id, "Smith", ""),
    ]
    assert all(text[m.start : m.end] == m.fragment for m in mentions)


def test_children_all_named_in_scripts_without_spaces_are_masked_too():
    """Names with no word edges (Chinese, Thai) make a pattern without the plural ending
    that names written with spaces allow: reading a mention must not depend on it."""
    mei_ling, somjai = ChildName(41, "美玲", "王"), ChildName(42, "สมใจ", "ใจดี")

    assert masked("美玲和สมใจ玩", somjai, mei_ling) == "A friend和สมใจ玩"
    assert [m.fragment for m in find_mentions("美玲和สมใจ", targets=[somjai], protected=())] == [
        "สมใจ"
    ]


def test_name_forms_cover_full_given_last_and_parts():
    assert name_forms(ChildName(1, "Mary Jane", "de la Cruz", preferred_name="MJ")) == (
        "Mary Jane de la Cruz",
        "MJ de la Cruz",
        "Mary Jane",
        "Mary",
        "Jane",
        "MJ",
        "de la Cruz",
        "Cruz",
    )


# --- captions and file names ------------------------------------------------------------


def test_a_caption_is_masked_and_kept_on_one_line():
    caption = "Oliver and\n Amelia  at the sand tray"

    assert masked_caption(caption, shown_child=AMELIA, others=[OLIVER]) == (
        "A friend and Amelia at the sand tray"
    )


@pytest.mark.parametrize("caption", [None, "", "   \n"])
def test_an_empty_caption_becomes_the_default_alt_text(caption):
    assert masked_caption(caption, shown_child=AMELIA, others=[OLIVER]) == "Photo"


def test_a_photo_file_name_has_no_child_name_by_default():
    name = photo_file_name(observed_on=date(2025, 3, 14), observation_id=12, position=2)

    assert name == "2025-03-14_observation-12_photo-2.jpg"


@pytest.mark.parametrize(
    ("child", "expected"),
    [
        (AMELIA, "2025-03-14_amelia_observation-12_photo-1.jpg"),
        (OLIVER, "2025-03-14_ollie_observation-12_photo-1.jpg"),
        (ZOE, "2025-03-14_zoe_observation-12_photo-1.jpg"),
        (MARY_JANE, "2025-03-14_mary-jane_observation-12_photo-1.jpg"),
        (OLEG, "2025-03-14_observation-12_photo-1.jpg"),  # nothing ASCII left: left out
        (
            ChildName(20, "../../etc/passwd", "X"),
            "2025-03-14_etc-passwd_observation-12_photo-1.jpg",
        ),
    ],
)
def test_a_photo_file_name_may_carry_the_own_childs_name_in_ascii(child, expected):
    name = photo_file_name(
        observed_on=date(2025, 3, 14), observation_id=12, position=1, own_child=child
    )

    assert name == expected


@pytest.mark.parametrize("extension", ["html", "jpg/../x", "", "svg"])
def test_a_photo_file_name_refuses_other_extensions(extension):
    with pytest.raises(ValueError, match="extension"):
        photo_file_name(
            observed_on=date(2025, 3, 14), observation_id=1, position=1, extension=extension
        )


# --- the text as its reader sees it ------------------------------------------------------

ZOE_BROWN = ChildName(50, "Zoë", "Brown")


def masked_observation(source: str, *others: ChildName) -> ObservationText:
    return mask_other_children(
        ObservationText(source), shown_child=AMELIA, others=list(others) or [ZOE_BROWN]
    )


@pytest.mark.parametrize(
    ("source", "html"),
    [
        # Markdown that wraps or splits the name: masked where it shows, formatting kept
        ("Amelia and _Zoë_ played", "<p>Amelia and <em>a friend</em> played</p>"),
        ("Amelia and __Zoë__ played", "<p>Amelia and <strong>a friend</strong> played</p>"),
        ("Amelia and **Zo**ë played", "<p>Amelia and <strong>a friend</strong> played</p>"),
        ("Amelia and Z*o*ë played", "<p>Amelia and a friend<em></em> played</p>"),
        ("***Zoë*** laughed", "<p><em><strong>A friend</strong></em> laughed</p>"),
        ("Amelia and \\_Zoë\\_ played", "<p>Amelia and _a friend_ played</p>"),
        ("- Amelia\n- Zoë", "<ul>\n<li>Amelia</li>\n<li>A friend</li>\n</ul>"),
        # possessives and plurals, with or without an apostrophe
        ("Zoës coat", "<p>A friend's coat</p>"),
        ("Zoes coat", "<p>A friend's coat</p>"),
        ("_Zoë_'s coat", "<p><em>A friend's</em> coat</p>"),
        ("the **Browns**", "<p>the <strong>a friend's</strong></p>"),
        # what the reader's eye does not see: entities, invisible characters, Unicode forms
        ("Amelia and Zo&euml;", "<p>Amelia and a friend</p>"),
        ("Amelia and Zo&amp;euml;", "<p>Amelia and a friend</p>"),
        ("Amelia and &#90;o&#xEB;", "<p>Amelia and a friend</p>"),
        ("Amelia and Zo\u200dë and Z\ufe0foë", "<p>Amelia and a friend and a friend</p>"),
        ("Amelia and Zoe\u0308 and \uff3a\uff2f\uff25", "<p>Amelia and a friend and a friend</p>"),
        ("Amelia and <b>Zo</b>ë", "<p>Amelia and &lt;b&gt;a friend</p>"),
    ],
)
def test_names_are_masked_in_what_the_reader_sees(source: str, html: str):
    assert masked_observation(source).html == Markup(html)


def test_the_plain_text_of_a_masked_observation_is_what_the_reader_reads():
    shown = masked_observation("**Zo**ë and Amelia:\n\n1. _Zoës_ spade\n2. Amelia's bucket")

    assert shown.text == "A friend and Amelia:\n\n1. A friend's spade\n2. Amelia's bucket"


def test_find_names_sees_every_name_of_the_children_however_written():
    text = ObservationText("**Zo**ë, zoes and Mr __BROWN__, but not Zoey").text

    assert [m.fragment for m in find_names(text, [ZOE_BROWN])] == ["Zoë", "zoes", "BROWN"]


def test_mask_names_hides_every_name_even_of_a_child_in_view():
    assert mask_names("Zoë and Amelia's hat", [ZOE_BROWN, AMELIA], "a child") == (
        "A child and a child's hat"
    )


def test_a_file_title_is_the_first_words_in_ascii_cut_between_words():
    title = file_title(
        "Amelia dug a very deep hole in the sandpit today!", shown_child=AMELIA, others=[OLIVER]
    )

    assert title == "amelia-dug-a-very-deep-hole-in"


def test_a_file_title_that_reads_as_another_childs_name_is_left_out():
    """Judged as its reader sees it: words the masking let through are not a file name."""
    assert file_title("Amelia and Ollie dug", shown_child=AMELIA, others=[OLIVER]) == ""
    assert file_title("Amelia and a friend dug", shown_child=AMELIA, others=[OLIVER]) == (
        "amelia-and-a-friend-dug"
    )
