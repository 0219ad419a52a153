"""Every character of our PDFs is drawn by a font that has it, in every style."""

from __future__ import annotations

import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Paragraph

from app.retention.pdf_styles import USED, pdf_paragraph

WRITTEN = {
    "Latin": "Łucja, Şükrü, Ngọc and Zoë",
    "Greek": "Καλημέρα Ωρίων",
    "Cyrillic": "Привет, Юлия",
    "Hebrew": "שלום נועה",
    "Arabic": "أحمد يبني برجا عاليا",
    "Persian": "پریا و آرش بازی کردند",
    "Urdu": "علی نے کھیلا",
    "Devanagari": "अदिति ने क्षितिज पर",
    "Bengali": "প্রিয়া একটি টাওয়ার বানাল",
    "Thai": "สมชาย สร้างหอคอย",
    "Chinese": "美玲搭了一座塔",
    "Japanese": "さくらとサクラ",
    "Korean": "민준이 놀았다",
    "Emoji": "So proud 😍👍🎉",
}


def _drawn(flowable) -> list[Paragraph]:
    if isinstance(flowable, Paragraph):
        return [flowable]
    flowable.wrap(400, 800)  # a right-to-left paragraph: its lines, each a paragraph
    return [Paragraph(line.text, line.style) for line in flowable.drawn]  # frags unbroken


@pytest.mark.parametrize("style", USED)
@pytest.mark.parametrize("script", WRITTEN)
def test_each_character_is_drawn_by_a_font_that_has_it(script, style):
    """DejaVu Sans Oblique (captions, areas) has no Arabic letter at all, nor Bold every
    one: a caption in Arabic came out as boxes."""
    for paragraph in _drawn(pdf_paragraph(WRITTEN[script], style)):
        for frag in paragraph.frags:
            font = pdfmetrics.getFont(frag.fontName).face.charToGlyph
            lacking = [c for c in getattr(frag, "text", "") if ord(c) not in font and c != " "]
            assert not lacking, (frag.fontName, lacking)
