"""A small PDF writer on reportlab: a title, then headed tables, in a font that has
Chinese. ``STSong-Light`` is one of reportlab's built-in CID fonts (Adobe's Asian font
pack): no font file ships with us, and PDF readers supply the glyphs."""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"
Section = tuple[str, Sequence[Sequence[object]]]


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def document(title: str, sections: Sequence[Section]) -> bytes:
    """A PDF of ``title`` and each section's heading and rows (the first row is a header)."""
    font = _font()
    heading = ParagraphStyle("h", fontName=font, fontSize=15, leading=20, spaceAfter=8)
    sub = ParagraphStyle("s", fontName=font, fontSize=11, leading=15, spaceBefore=8)
    out = io.BytesIO()
    story: list[object] = [Paragraph(title, heading)]
    for name, rows in sections:
        story.append(Paragraph(name, sub))
        if rows:
            table = Table([[str(c) for c in row] for row in rows], repeatRows=1)
            table.setStyle(TableStyle([
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ]))  # fmt: skip
            story.append(table)
        story.append(Spacer(1, 6))
    SimpleDocTemplate(out, pagesize=A4, title=title).build(story)
    return out.getvalue()
