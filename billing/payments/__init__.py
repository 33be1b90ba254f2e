"""Payments and finance of billing: Stripe (customers, meter events, webhooks), bank
transfers (对公转账) and their matching, fapiao (发票) details, dunning.

Invoices themselves (plans, month close, invoice pages) live beside this package in
billing/; here they are read through ``services.ledger`` and referred to by number, so
payments never reach into how an invoice is made.
"""
