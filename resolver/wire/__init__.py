"""The Handle wire protocol (RFC 3651/3652) as idnest speaks it on TCP and UDP port 2641.

Public resolution by identifier-resolution clients (the Handle.net Java library, IDIS
SDKs, recursive nodes) goes through this door. The package is the protocol only: the
codec (``codec``, ``bodies``, ``values``, ``site``), message framing over UDP/TCP
(``framing``) and a small client (``client``). Serving records — cache look-up,
permissions, counting — belongs to the wire server, which uses this codec.
"""
