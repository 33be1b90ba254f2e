"""Escrow services: sealed files, writing sets, restoring, uploading."""
