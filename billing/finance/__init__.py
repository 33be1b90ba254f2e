"""Finance (staff role ``finance``): invoices by month and status, usage per tenant,
accounts-receivable ageing, payments and their matching, the ledger against Stripe, and
the exports (CSV, XLSX) of all of them. Reads only; every figure comes from the ledger
tables (invoices, lines, payments, transfers) and core/usage.py, nothing is counted twice.
"""
