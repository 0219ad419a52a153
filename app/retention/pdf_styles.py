"""The paragraph styles of the PDFs a person takes away (leaving pack, subject-access export).

reportlab's built-in fonts (Helvetica) hold only Latin-1: a name such as Łucja, Dvořák or
Şükrü, or a parent's comment in Greek or Cyrillic, came out as black boxes and was lost to
anyone copying or searching the text. The styles use DejaVu Sans instead (shipped in
``fonts/`` with its licence; reportlab embeds the characters a PDF uses): Latin in every
European language and Vietnamese, Greek, Cyrillic, Hebrew and Arabic. Every paragraph goes
through ``pdf_paragraph``, which draws what DejaVu lacks as readers expect:

- **Chinese, Japanese and Korean** in reportlab's CID fonts (Adobe's standard Asian fonts,
  which PDF readers supply: nothing to ship), so the characters are there to copy and search.
- **Right-to-left** text (Hebrew, Arabic, Urdu) in the order it is read: reportlab lays
  characters out left to right as stored, so a Hebrew name came out reversed and Arabic
  letters unjoined. Arabic is shaped (``arabic_reshaper``) and the line put in visual
  order (``python-bidi``).

Scripts needing shaping reportlab does not do (Devanagari, Bengali, Thai...) still show as
boxes; the JSON beside each PDF holds every character as written.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from itertools import groupby
from pathlib import Path
from xml.sax.saxutils import escape

import arabic_reshaper
from bidi.algorithm import get_display
from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph

FONT_FOLDER = Path(__file__).parent / "fonts"

# Each built-in face the styles below use, and the DejaVu face drawn instead.
FACES = {
    "Helvetica": "DejaVuSans",
    "Helvetica-Bold": "DejaVuSans-Bold",
    "Helvetica-Oblique": "DejaVuSans-Oblique",
}

USED = ("Title", "Heading2", "Normal", "BodyText", "Italic")

# The CID font drawing each East Asian script (first match of a character's Unicode name).
CJK_FONTS = (
    ("HANGUL", "HYSMyeongJo-Medium"),
    ("HIRAGANA", "HeiseiMin-W3"),
    ("KATAKANA", "HeiseiMin-W3"),
    ("CJK", "STSong-Light"),
    ("IDEOGRAPHIC", "STSong-Light"),
    ("FULLWIDTH", "STSong-Light"),
)
RIGHT_TO_LEFT = frozenset({"R", "AL"})


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
    sample = getSampleStyleSheet()
    styles = StyleSheet1()
    for name in USED:
        style = sample[name]
        styles.add(
            ParagraphStyle(
                name,
                parent=style,
                fontName=FACES[style.fontName],
                bulletFontName=FACES[style.bulletFontName],
            )
        )
    return styles


def pdf_paragraph(text: str, style: str) -> Paragraph:
    """``text`` (plain, never markup) as a paragraph in ``style``, every character drawn in
    a font that has it and right-to-left text in reading order."""
    return Paragraph(_markup(text), pdf_styles()[style])


def _markup(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    if any(unicodedata.bidirectional(character) in RIGHT_TO_LEFT for character in text):
        text = get_display(arabic_reshaper.reshape(text))
    runs = groupby(text, key=_font_for)
    return "".join(
        escape(piece) if font is None else f'<font name="{font}">{escape(piece)}</font>'
        for font, characters in runs
        if (piece := "".join(characters))
    )


def _font_for(character: str) -> str | None:
    """The CID font for an East Asian character DejaVu lacks; None for the style's own."""
    if ord(character) in _dejavu_characters():
        return None
    name = unicodedata.name(character, "")
    for prefix, font in CJK_FONTS:
        if name.startswith(prefix):
            _register_cid_font(font)
            return font
    return None


@cache
def _dejavu_characters() -> frozenset[int]:
    pdf_styles()
    return frozenset(pdfmetrics.getFont(FACES["Helvetica"]).face.charToGlyph)


@cache
def _register_cid_font(font: str) -> None:
    pdfmetrics.registerFont(UnicodeCIDFont(font))
