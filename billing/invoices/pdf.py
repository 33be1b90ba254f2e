"""An invoice as PDF (reportlab), in Chinese or English.

Chinese text uses reportlab's built-in CID font STSong-Light (Adobe's Asian font pack
names it; PDF readers supply the glyphs), so no font file ships with idnest.
"""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.invoices.text import LABELS, line_description
from billing.money import format_yuan

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def render(invoice: dict[str, Any], *, prefix: str, lang: str = "zh", payee: str = "") -> bytes:
    """The invoice (as ``billing.invoices.service.get_invoice`` gives it) as PDF bytes;
    ``payee`` is the node's account for bank transfers, as ``payee_text`` words it."""
    t = LABELS["zh" if lang == "zh" else "en"]
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=14)
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=22)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=invoice["number"], author="idnest")
    kind = t["credit_note"] if invoice["kind"] == "credit_note" else t["invoice"]
    head = [
        Paragraph(f"{kind} {invoice['number']}", title),
        Paragraph(f"{t['tenant']}: {prefix}", body),
        Paragraph(
            f"{t['month']}: {invoice['month']}  {t['status']}: "
            f"{t.get('status_' + invoice['status'], invoice['status'])}",
            body,
        ),
        Paragraph(
            f"{t['issued']}: {invoice['issued_at'][:10]}  {t['due']}: {invoice['due_on']}", body
        ),
        Spacer(1, 6 * mm),
    ]
    rows: list[list[Any]] = [[t["item"], t["quantity"], t["unit_price"], t["amount"]]]
    for line in invoice["lines"]:
        rows.append(
            [
                Paragraph(line_description(line, lang), body),
                str(line["quantity"]),
                format_yuan(line["unit_price_fen"]),
                format_yuan(line["amount_fen"]),
            ]
        )
    rows.append([t["total"], "", "", f"{invoice['currency']} {format_yuan(invoice['total_fen'])}"])
    table = Table(rows, colWidths=[95 * mm, 25 * mm, 25 * mm, 30 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    pay = [Paragraph(t["how_to_pay"].format(number=invoice["number"]), body)]
    if payee:
        pay.append(Paragraph(payee, body))
    doc.build([*head, table, Spacer(1, 8 * mm), *pay])
    return out.getvalue()
