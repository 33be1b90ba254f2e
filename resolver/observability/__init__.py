"""Observability of the read path: door metering, resolution logs, /metrics, the prober."""
