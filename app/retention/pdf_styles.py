"""The paragraph styles of the PDFs a person takes away (leaving pack, subject-access export).

reportlab's built-in fonts (Helvetica) hold only Latin-1: a name such as Łucja, Dvořák or
Şükrü, or a parent's comment in Greek or Cyrillic, came out as black boxes and was lost to
anyone copying or searching the text. The styles use DejaVu Sans instead (shipped in
``fonts/`` with its licence; reportlab embeds the characters a PDF uses): Latin in every
European language and Vietnamese, Greek and Cyrillic. Scripts it lacks (Chinese, Japanese,
emoji) still show as boxes, and right-to-left ones come out in reverse; the JSON beside
each PDF holds every character as written.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from reportlab.lib.styles import ParagraphStyle, StyleSheet1, getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_FOLDER = Path(__file__).parent / "fonts"

# Each built-in face the styles below use, and the DejaVu face drawn instead.
FACES = {
    "Helvetica": "DejaVuSans",
    "Helvetica-Bold": "DejaVuSans-Bold",
    "Helvetica-Oblique": "DejaVuSans-Oblique",
}

USED = ("Title", "Heading2", "Normal", "BodyText", "Italic")


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
