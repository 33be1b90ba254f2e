"""The words on an invoice, in Chinese and English (the HTML page and the PDF share them)."""

from __future__ import annotations

from typing import Any

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "invoice": "账单",
        "credit_note": "红字冲销单",
        "tenant": "企业节点",
        "month": "账期",
        "status": "状态",
        "issued": "开具日期",
        "due": "到期日",
        "item": "项目",
        "quantity": "数量",
        "unit_price": "单价（元）",
        "amount": "金额（元）",
        "total": "合计",
        "status_issued": "已开具",
        "status_paid": "已支付",
        "status_overdue": "已逾期",
        "status_void": "已作废",
        "how_to_pay": "付款方式：对公转账，请在附言中注明账单号 {number}；或在控制台在线支付。",
    },
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "tenant": "Enterprise node",
        "month": "Period",
        "status": "Status",
        "issued": "Issued",
        "due": "Due",
        "item": "Item",
        "quantity": "Quantity",
        "unit_price": "Unit price (CNY)",
        "amount": "Amount (CNY)",
        "total": "Total",
        "status_issued": "issued",
        "status_paid": "paid",
        "status_overdue": "overdue",
        "status_void": "void",
        "how_to_pay": "How to pay: bank transfer quoting invoice number {number} as the "
        "reference, or pay online in the console.",
    },
}


def line_description(line: dict[str, Any], lang: str) -> str:
    return str(line["description_zh"] if lang == "zh" else line["description_en"])
