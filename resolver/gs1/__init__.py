"""GS1 Digital Link resolution (GS1-Conformant Resolver standard 1.2), and the cache
that OID, Ecode and VAA resolution share with it."""
