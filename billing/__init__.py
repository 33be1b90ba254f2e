"""Plans, metering, invoices, the Stripe adapter and finance exports.

Learns about usage from the resolution counters and outbox events, never by reaching
into the resolver's internals.
"""
