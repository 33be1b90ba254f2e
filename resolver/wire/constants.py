"""Numbers of the Handle wire protocol (RFC 3651/3652, Handle.net 2.10, IDIS additions).

Opcodes, response codes and flags as the reference implementation and China's IDIS
clients use them. The enums are for readable code and reports; the hot path compares
plain ``int`` values, which the ``IntEnum``/``IntFlag`` members equal.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import Final

ENVELOPE_SIZE: Final = 20
HEADER_SIZE: Final = 24
MAX_MESSAGE_LENGTH: Final = 262144
MAX_UDP_PACKET: Final = 512
MAX_UDP_DATA: Final = MAX_UDP_PACKET - ENVELOPE_SIZE
MAX_TCP_CHUNK: Final = MAX_MESSAGE_LENGTH - ENVELOPE_SIZE
"""A TCP sender splits a longer message into envelopes carrying this much each."""

PROTOCOL_VERSION: Final = (2, 10)
"""What we speak and suggest; answers use the client's version when it is lower."""

NONCE_SIZE: Final = 16
UNKNOWN_SITE_SERIAL: Final = 0xFFFF
"""Site-info serial a client sends when it knows no site (Java's -1 as 2 bytes)."""


class OpCode(IntEnum):
    RESERVED = 0
    RESOLUTION = 1
    GET_SITE_INFO = 2
    CREATE_HANDLE = 100
    DELETE_HANDLE = 101
    ADD_VALUE = 102
    REMOVE_VALUE = 103
    MODIFY_VALUE = 104
    LIST_HANDLES = 105
    RESPONSE_TO_CHALLENGE = 200
    VERIFY_CHALLENGE = 201
    HOME_NA = 300
    UNHOME_NA = 301
    LIST_HOMED_NAS = 302
    SESSION_SETUP = 400
    SESSION_TERMINATE = 401
    SESSION_EXCHANGEKEY = 402
    GET_NEXT_TXN_ID = 1000
    RETRIEVE_TXN_LOG = 1001
    DUMP_HANDLES = 1002
    BACKUP_SERVER = 1003
    LOGIN_IDIS = 2001
    """China's IDIS login: body is the user's handle and key index."""


class ResponseCode(IntEnum):
    RESERVED = 0
    """Requests carry 0; any other value makes a message a response."""
    SUCCESS = 1
    ERROR = 2
    SERVER_TOO_BUSY = 3
    PROTOCOL_ERROR = 4
    OPERATION_NOT_SUPPORTED = 5
    RECURSION_COUNT_TOO_HIGH = 6
    SERVER_BACKUP = 7
    HANDLE_NOT_FOUND = 100
    HANDLE_ALREADY_EXISTS = 101
    INVALID_HANDLE = 102
    VALUES_NOT_FOUND = 200
    VALUE_ALREADY_EXISTS = 201
    INVALID_VALUE = 202
    OUT_OF_DATE_SITE_INFO = 300
    SERVER_NOT_RESP = 301
    SERVICE_REFERRAL = 302
    PREFIX_REFERRAL = 303
    INVALID_ADMIN = 400
    INSUFFICIENT_PERMISSIONS = 401
    AUTHENTICATION_NEEDED = 402
    AUTHENTICATION_FAILED = 403
    INVALID_CREDENTIAL = 404
    AUTHEN_TIMEOUT = 405
    AUTHEN_ERROR = 406
    SESSION_TIMEOUT = 500
    SESSION_FAILED = 501
    INVALID_SESSION_KEY = 502
    NEED_RSAKEY_FOR_SESSIONEXCHANGE = 503
    INVALID_SESSIONSETUP_REQUEST = 504
    SESSION_MESSAGE_REJECTED = 505
    CLIENT_CHANNEL_ERROR = 601
    CLIENT_TIME_OUT = 602
    REQUEST_LIMIT_DAILY = 603
    """IDIS quota: the daily request limit is reached."""
    REGISTER_COUNT_LIMIT = 604
    """IDIS quota: the registration count limit is reached."""
    PREFIX_LIMIT = 605
    """IDIS quota: the prefix limit is reached."""


class EnvelopeFlag(IntFlag):
    COMPRESSED = 0x80
    ENCRYPTED = 0x40
    TRUNCATED = 0x20


class OpFlag(IntFlag):
    AUTH = 0x80000000
    """Authoritative: skip caches, ask primaries."""
    CERT = 0x40000000
    """Asks the server to sign the response."""
    ENCR = 0x20000000
    RECU = 0x10000000
    """Resolve recursively if this server is not responsible."""
    CACR = 0x08000000
    CONT = 0x04000000
    """More messages of this answer follow (same request id)."""
    KPAL = 0x02000000
    """Keep the TCP connection open for more requests."""
    PUBL = 0x01000000
    """Public values only."""
    RRDG = 0x00800000
    """Responses start with a digest of the request."""
    OVRW = 0x00400000
    MINT = 0x00200000
    DNRF = 0x00100000
    """Do not answer with a referral."""


class HashCode(IntEnum):
    """Digest algorithm codes used in request digests (RRDG) and challenges."""

    MD5_OLD_FORMAT = 0
    MD5 = 1
    SHA1 = 2
    SHA256 = 3


DIGEST_SIZES: Final[dict[int, int]] = {HashCode.MD5: 16, HashCode.SHA1: 20, HashCode.SHA256: 32}

TRUNCATED: Final = 0x20
UNSUPPORTED_ENVELOPE: Final = 0x80 | 0x40
RRDG: Final = 0x00800000
CONT: Final = 0x04000000
REPLY_ECHO_FLAGS: Final = 0x80000000 | 0x08000000 | 0x01000000 | 0x00100000
"""Request flags a response repeats (AUTH, CACR, PUBL, DNRF), as the reference server does."""
DEFAULT_REQUEST_FLAGS: Final = 0x10000000 | 0x08000000 | 0x01000000
"""RECU | CACR | PUBL: what the reference client sends by default."""
