"""The paragraph styles of the PDFs a person takes away (leaving pack, subject-access export).

reportlab's built-in fonts (Helvetica) hold only Latin-1: a name such as Łucja, Dvořák or
Şükrü, or a parent's comment in Greek or Cyrillic, came out as black boxes and was lost to
anyone copying or searching the text. The styles use DejaVu Sans instead (shipped in
``fonts/`` with its licence; reportlab embeds the characters a PDF uses): Latin in every
European language and Vietnamese, Greek, Cyrillic and Hebrew. Every paragraph goes
through ``pdf_paragraph``, which draws what DejaVu lacks as readers expect:

- **Chinese and Japanese** in Droid Sans Fallback, **Korean** in NanumSquare (both shipped in
  ``fonts/``): the Asian fonts PDF readers are expected to supply are missing from many,
  which then drew nothing where a child's name was.
- **Arabic, Persian and Urdu** in Noto Sans Arabic (DejaVu's bold and oblique faces lack
  Arabic letters, and none of its faces has every letter Urdu needs).
- **Right-to-left** text (Hebrew, Arabic, Urdu) in the order it is read: reportlab lays
  characters out left to right as stored, so a Hebrew name came out reversed and Arabic
  letters unjoined. Arabic is shaped (``arabic_reshaper``), the paragraph broken into
  lines in the order written and each line put in visual order (``python-bidi``).
- **Scripts of South and South-East Asia and Ethiopia** (Devanagari, Bengali, Gurmukhi,
  Gujarati, Odia, Tamil, Telugu, Kannada, Malayalam, Sinhala, Thai, Lao, Khmer, Myanmar,
  Ethiopic) in a Noto Sans face of their own (``fonts/``, SIL Open Font Licence), shaped by
  HarfBuzz (``uharfbuzz``, through reportlab): letters join into conjuncts and vowel signs
  go where they are read. Each shaped run carries its text as written (the PDF's
  ``ActualText``): the glyphs of a conjunct, or a vowel sign drawn before its consonant,
  would otherwise read back out of order or not at all.
- **Emoji and symbols** (a parent's "So proud 😍") in Symbola, in black and white.

A run holding characters beyond U+FFFF carries its text as written too: reportlab's map
from glyphs back to text cannot hold them. Only the characters a PDF uses are embedded
(reportlab subsets every TrueType face).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import arabic_reshaper
from bidi.algorithm import get_display
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, makeShapedFragWord
from reportlab.pdfbase.ttfonts import shapeFragWord as _shape_frag_word
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate
from reportlab.platypus import paragraph as reportlab_paragraph

FONT_FOLDER = Path(__file__).parent / "fonts"

# Each built-in face the styles below use, and the DejaVu face drawn instead.
FACES = {
    "Helvetica": "DejaVuSans",
    "Helvetica-Bold": "DejaVuSans-Bold",
    "Helvetica-Oblique": "DejaVuSans-Oblique",
}

USED = ("Title", "Heading2", "Normal", "BodyText", "Italic")

# The scripts DejaVu lacks whose letters must be shaped, each in a Noto Sans face of its
# regular weight only (in headings too: a bold face for each would double what we ship),
# with the Unicode blocks it is tried for.
SHAPED_SCRIPTS = {
    "Devanagari": ((0x0900, 0x097F), (0xA8E0, 0xA8FF), (0x1CD0, 0x1CFF)),
    "Bengali": ((0x0980, 0x09FF),),
    "Gurmukhi": ((0x0A00, 0x0A7F),),
    "Gujarati": ((0x0A80, 0x0AFF),),
    "Oriya": ((0x0B00, 0x0B7F),),
    "Tamil": ((0x0B80, 0x0BFF),),
    "Telugu": ((0x0C00, 0x0C7F),),
    "Kannada": ((0x0C80, 0x0CFF),),
    "Malayalam": ((0x0D00, 0x0D7F),),
    "Sinhala": ((0x0D80, 0x0DFF),),
    "Thai": ((0x0E00, 0x0E7F),),
    "Lao": ((0x0E80, 0x0EFF),),
    "Khmer": ((0x1780, 0x17FF), (0x19E0, 0x19FF)),
    "Myanmar": ((0x1000, 0x109F), (0xA9E0, 0xA9FF), (0xAA60, 0xAA7F)),
    "Ethiopic": ((0x1200, 0x139F), (0x2D80, 0x2DDF), (0xAB00, 0xAB2F)),
}
SHAPED_FACES = frozenset(f"NotoSans{script}" for script in SHAPED_SCRIPTS)


@dataclass(frozen=True)
class Fallback:
    """A face drawing what DejaVu lacks, tried for characters in its ``blocks``; one that
    ``claims`` them draws them even where DejaVu has some (its script in one face)."""

    file: str
    blocks: tuple[tuple[int, int], ...]
    claims: bool = False

    def is_tried_for(self, character: str) -> bool:
        return any(first <= ord(character) <= last for first, last in self.blocks)


# The faces drawing what DejaVu lacks, in the order tried. Each is read only when a PDF
# first needs it: the Chinese, Korean and emoji faces alone take some 30 MB once read.
FALLBACK_FACES = {
    **{
        f"NotoSans{script}": Fallback(f"NotoSans{script}-Regular.ttf", blocks)
        for script, blocks in SHAPED_SCRIPTS.items()
    },
    # Arabic, Persian and Urdu letters, as ``arabic_reshaper`` gives them (presentation
    # forms): DejaVu lacks Urdu's final yeh barree, and its oblique face every Arabic letter.
    "NotoSansArabic": Fallback(
        "NotoSansArabic-Regular.ttf",
        ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
        claims=True,
    ),
    "DroidSansFallback": Fallback(  # Chinese and Japanese
        "DroidSansFallbackFull.ttf",
        (
            (0x2E80, 0x2FDF),  # radicals
            (0x3000, 0x31FF),  # punctuation, kana, bopomofo
            (0x3200, 0x33FF),  # enclosed letters, compatibility
            (0x3400, 0x4DBF),  # ideographs, extension A
            (0x4E00, 0x9FFF),  # ideographs
            (0xF900, 0xFAFF),  # compatibility ideographs
            (0xFE30, 0xFE4F),  # compatibility forms
            (0xFF00, 0xFFEF),  # full- and half-width forms
        ),
    ),
    "NanumSquare": Fallback(  # Korean
        "NanumSquareR.ttf",
        ((0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xAC00, 0xD7FF)),
    ),
    # Emoji and symbols, as parents write them in comments: whatever is left.
    "Symbola": Fallback("Symbola.ttf", ((0x0000, 0x10FFFF),)),
}
CLAIMING_FACES = tuple(face for face, fallback in FALLBACK_FACES.items() if fallback.claims)
RIGHT_TO_LEFT = frozenset({"R", "AL"})

# The names of the canvas callbacks (``<onDraw>``) around a shaped run.
BEGIN_AS_WRITTEN, END_AS_WRITTEN = "begin-as-written", "end-as-written"


@cache
def pdf_styles() -> StyleSheet1:
    """The styles in ``USED``, drawn in DejaVu Sans (fonts registered on first use)."""
    for face in FACES.values():
        pdfmetrics.registerFont(TTFont(face, FONT_FOLDER / f"{face}.ttf"))
    pdfmetrics.registerFontFamily(
        FACES["Helvetica"],
        normal=FACES["Helvetica"],
        bold=FACES["Helvetica-Bold"],
        italic=FACES["Helvetica-Oblique"],
        boldItalic=FACES["Helvetica-Bold"],  # no <b><i> in our text: everything is escaped
    )
    # reportlab has no hook for how a word is shaped: its paragraphs call this name.
    reportlab_paragraph.shapeFragWord = _shape_runs_alone
    sample = getSampleStyleSheet()
    styles = StyleSheet1()
    for name in USED:
        style = sample[name]
        ours = ParagraphStyle(
            name,
            parent=style,
            fontName=FACES[style.fontName],
            bulletFontName=FACES[style.bulletFontName],
        )
        styles.add(ours)
    return styles


def pdf_paragraph(text: str, style: str) -> Flowable:
    """``text`` (plain, never markup) as a paragraph in ``style``, every character drawn in
    a font that has it and right-to-left text in reading order."""
    text = unicodedata.normalize("NFC", text)
    if any(unicodedata.bidirectional(character) in RIGHT_TO_LEFT for character in text):
        # White space as a paragraph draws it: a new line would part the bidi algorithm's
        # paragraphs within one line.
        words = " ".join(text.split())
        return _BidiParagraph(arabic_reshaper.reshape(words), style, _base_direction(text))
    return _paragraph(text, style)


def _paragraph(text: str, style: str, *, right: bool = False) -> Paragraph:
    """``text``, in the order it is drawn, as a paragraph; aligned ``right`` unless its
    style centres it."""
    markup, shaped = _markup(text, pdf_styles()[style].fontName)
    return Paragraph(markup, _style(style, shaped=shaped, right=right))


@cache
def _style(name: str, *, shaped: bool, right: bool) -> ParagraphStyle:
    style = pdf_styles()[name]
    return ParagraphStyle(
        f"{name}{'-shaped' if shaped else ''}{'-right' if right else ''}",
        parent=style,
        # Shaping sends every word of a paragraph through HarfBuzz: only where needed.
        shaping=1 if shaped else 0,
        alignment=TA_RIGHT if right and style.alignment == TA_LEFT else style.alignment,
    )


def build_pdf(path: str | Path, title: str, author: str, flowables: Iterable[Flowable]) -> None:
    """Write ``flowables`` as an A4 PDF at ``path``, its properties naming it ``title`` by
    ``author`` (the setting): every PDF of ours is made here, on a canvas that keeps what
    shaped runs say (``_Canvas``)."""
    document = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        title=title,
        author=author,
        creator="Learning Journals",
        lang="en-GB",  # the language screen readers read it in
        displayDocTitle=1,  # a reader's window shows the title, not the file's name
        # reportlab starts each page in Helvetica, a font the PDF would name without holding.
        initialFontName=pdf_styles()["Normal"].fontName,
    )
    document.build(list(flowables), canvasmaker=_Canvas)


def _markup(text: str, own: str) -> tuple[str, bool]:
    """The paragraph markup of ``text`` (in the order drawn) in a style drawn in ``own``,
    and whether it holds a run to shape."""
    pieces, shaped = [], False
    for font, piece in _runs(text, own):
        drawn = escape(piece) if font is None else f'<font name="{font}">{escape(piece)}</font>'
        if font in SHAPED_FACES or any(ord(character) > 0xFFFF for character in piece):
            # reportlab's map from glyphs back to text holds no character beyond U+FFFF
            # (an emoji, a rare Chinese character in a name): they are given as written.
            drawn = _as_written(piece, drawn)
        shaped = shaped or font in SHAPED_FACES
        pieces.append(drawn)
    return "".join(pieces), shaped


def _runs(text: str, own: str) -> Iterator[tuple[str | None, str]]:
    """``text`` cut where the font drawing it changes (None: ``own``, the style's)."""
    if text.isascii():  # most text; every face of DejaVu has every ASCII character
        yield None, text
        return
    font: str | None = None

    def font_of(character: str) -> str | None:
        nonlocal font
        font = _font_for(character, font, own)
        return font

    for run_font, characters in groupby(text, key=font_of):
        yield run_font, "".join(characters)


def _font_for(character: str, current: str | None, own: str) -> str | None:
    """The font for ``character`` after a run in ``current``: a shaped face keeps the
    marks, joiners and punctuation it has (one word is shaped as one); a face claiming
    its script draws it; else the style's own face (None) when it has the character, else
    DejaVu Sans (its bold and oblique faces lack some), else the face of its script."""
    if current in SHAPED_FACES and not character.isspace() and _has(current, character):
        return current
    if claimed := _face_for(character, CLAIMING_FACES):
        return claimed
    if _has(own, character):
        return None
    if _has(FACES["Helvetica"], character):
        return FACES["Helvetica"]
    return _face_for(character, FALLBACK_FACES)


def _face_for(character: str, faces: Iterable[str]) -> str | None:
    """The first of ``faces`` tried for ``character`` that has it."""
    return next(
        (
            face
            for face in faces
            if FALLBACK_FACES[face].is_tried_for(character) and _has(face, character)
        ),
        None,
    )


def _has(face: str, character: str) -> bool:
    return ord(character) in _characters_of(face)


@cache
def _characters_of(face: str) -> frozenset[int]:
    """The characters ``face`` draws (read, and registered, on first use)."""
    pdf_styles()
    if face in FALLBACK_FACES:
        pdfmetrics.registerFont(TTFont(face, FONT_FOLDER / FALLBACK_FACES[face].file))
    return frozenset(pdfmetrics.getFont(face).face.charToGlyph)


# ---------------------------------------------------------------- right to left


def _base_direction(text: str) -> str:
    """The paragraph's direction, that of its first letter with one (Unicode's rule P2)."""
    for character in text:
        direction = unicodedata.bidirectional(character)
        if direction in RIGHT_TO_LEFT:
            return "R"
        if direction == "L":
            return "L"
    return "L"


class _BidiParagraph(Flowable):
    """A paragraph holding right-to-left text: broken into lines in the order written,
    each line then put in reading order (as Unicode's bidi algorithm does). Ordering the
    whole paragraph first put its last words on its first line, so a long comment in
    Hebrew or Arabic read from the bottom up. Right-aligned when its direction is."""

    def __init__(self, text: str, style: str, direction: str) -> None:
        super().__init__()
        self.text, self.style, self.direction = text, style, direction
        self.lines: list[str] = []
        self.drawn: list[Paragraph] = []

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.lines = _broken(self.text, self.style, availWidth)
        right = self.direction == "R"
        self.drawn = [
            _paragraph(get_display(line, base_dir=self.direction), self.style, right=right)
            for line in self.lines
        ]
        self.width = availWidth
        self.height = sum(line.wrap(availWidth, availHeight)[1] for line in self.drawn)
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        self.wrap(availWidth, availHeight)
        fitting, height = 0, 0.0
        for line in self.drawn:
            height += line.height
            if height > availHeight:
                break
            fitting += 1
        if fitting in (0, len(self.lines)):
            return []
        return [
            _BidiParagraph(" ".join(part), self.style, self.direction)
            for part in (self.lines[:fitting], self.lines[fitting:])
        ]

    def draw(self) -> None:
        top = self.height
        for line in self.drawn:
            top -= line.height
            line.drawOn(self.canv, 0, top)

    def getSpaceBefore(self) -> float:
        return pdf_styles()[self.style].spaceBefore

    def getSpaceAfter(self) -> float:
        return pdf_styles()[self.style].spaceAfter


def _broken(text: str, style: str, width: float) -> list[str]:
    """``text`` cut at spaces into the lines that fit ``width`` (a word wider than a line
    is a line of its own, which its paragraph then breaks)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        longer = f"{line} {word}" if line else word
        if line and _line_width(longer, style) > width:
            lines.append(line)
            longer = word
        line = longer
    return [*lines, line]


def _line_width(text: str, style: str) -> float:
    own = pdf_styles()[style]
    return sum(
        pdfmetrics.stringWidth(piece, font or own.fontName, own.fontSize)
        for font, piece in _runs(text, own.fontName)
    )


# ---------------------------------------------------------------- shaping


def _as_written(run: str, markup: str) -> str:
    """``markup`` between the callbacks that mark it as standing for ``run``."""
    utf16 = run.encode("utf-16-be").hex().upper()
    return (
        f'<onDraw name="{BEGIN_AS_WRITTEN}" label="{utf16}"/>{markup}'
        f'<onDraw name="{END_AS_WRITTEN}"/>'
    )


def _shape_runs_alone(word: list[Any], *args: Any, **kwargs: Any) -> list[Any]:
    """reportlab's ``shapeFragWord`` for a word, one run at a time, and only the runs in a
    shaped face.

    reportlab shapes a whole word in the font of its first run, so 'अदिति's' drew the 's
    with a glyph number of the Devanagari face; and shaping the right-to-left text
    ``_markup`` has already put in reading order would reverse it again."""
    if not any(_is_shaped(frag) for frag, _ in word[1:]):
        return word
    width, pieces = 0.0, []
    for frag, text in word[1:]:
        if _is_shaped(frag):
            alone = _shape_frag_word([_width(frag, text), (frag, text)], *args, **kwargs)
            width += alone[0]
            pieces.extend(alone[1:])
        else:
            width += _width(frag, text)
            pieces.append((frag, text))
    return makeShapedFragWord(word)([width, *pieces])


def _is_shaped(frag: Any) -> bool:
    return not hasattr(frag, "cbDefn") and frag.fontName in SHAPED_FACES


def _width(frag: Any, text: str) -> float:
    if hasattr(frag, "cbDefn") or not text:
        return 0.0
    return pdfmetrics.stringWidth(text, frag.fontName, frag.fontSize)


class _Canvas(Canvas):
    """A canvas that marks each shaped run with its text as written (``ActualText``),
    which PDF readers copy and search instead of the glyphs' own characters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setNamedCB(BEGIN_AS_WRITTEN, _begin_as_written)
        self.setNamedCB(END_AS_WRITTEN, _end_as_written)


def _begin_as_written(canvas: Canvas, kind: str, utf16: str) -> None:
    canvas._curr_tx_info["tx"]._code.append(f"/Span <</ActualText <FEFF{utf16}>>> BDC")


def _end_as_written(canvas: Canvas, kind: str, label: None) -> None:
    canvas._curr_tx_info["tx"]._code.append("EMC")
