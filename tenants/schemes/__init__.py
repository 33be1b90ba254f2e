"""Identifier schemes beside the Handle form: GS1, OID, Ecode, VAA, and private codes.

A tenant holds namespaces (a GS1 company prefix, an OID sub-arc, Ecode/VAA issuer codes)
that staff verify; under a verified namespace it registers codes, each bound to a Handle
record of its own, and GS1 Digital Link links per key. It may also map its private
codes (内部编码) to public identifiers.
"""
