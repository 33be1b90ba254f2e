"""Monthly invoices and credit notes: closed from usage and plans, immutable once issued."""
