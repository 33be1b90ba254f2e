"""Escrow (数据托管): the node's core data, sealed into FULL and DIFF sets that alone can
rebuild the node, written on schedule and uploaded to the top-level node (docs/escrow.md).

It reads the tables core/tenancy.py marks ``escrow`` generically, through the change log
of core/changelog.py, so it imports no other context.
"""
