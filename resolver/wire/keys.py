"""Keys and challenge answers of the Handle protocol (RFC 3652 §3.5).

Why a module of its own: the server verifies answers, the admin client and the tests
produce them, and both must agree byte for byte.

* Public keys travel in Handle.net's binary form (``HS_PUBKEY`` data, the key in an
  HS_SITE server record): for RSA, the blob ``"RSA"``, two zero flag bytes, then the
  exponent and the modulus as length-prefixed big-endian integers. We also accept a
  DER SubjectPublicKeyInfo or a PEM text, which is what people paste.
* ``HS_SECKEY`` answers, as Handle.net's ``SecretKeyAuthenticationInfo`` writes them:
  one hash-code byte, then either HMAC(secret, nonce + request digest) for codes 0x12
  (HMAC-SHA1) and 0x13 (HMAC-SHA256), or hash(secret + nonce + digest + secret) for
  codes 1 (MD5), 2 (SHA-1), 3 (SHA-256). ``digest`` is the raw request digest, without
  its hash-code byte.
* ``HS_PUBKEY`` answers: the signature-algorithm name (length-prefixed, e.g.
  ``SHA256withRSA``), then the signature (length-prefixed) over nonce + digest, RSA
  PKCS#1 v1.5.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import struct
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.settings import Settings
from resolver.wire.reader import ProtocolError, Reader

log = logging.getLogger("idnest.wire")

HMAC_SHA1: Final = 0x12
HMAC_SHA256: Final = 0x13
_HMAC: Final = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256"}
_DIGEST: Final = {1: "md5", 2: "sha1", 3: "sha256"}
_SIG_HASHES: Final[dict[bytes, hashes.HashAlgorithm]] = {
    b"SHA1withRSA": hashes.SHA1(),  # noqa: S303 - older Handle clients sign with it
    b"SHA256withRSA": hashes.SHA256(),
    b"SHA512withRSA": hashes.SHA512(),
}


def _blob(raw: bytes) -> bytes:
    return struct.pack(">I", len(raw)) + raw


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 8) // 8, "big")  # leading sign byte like Java


def encode_public_key(key: rsa.RSAPublicKey) -> bytes:
    """Handle.net's binary RSA public key."""
    numbers = key.public_numbers()
    return b"".join(
        (_blob(b"RSA"), b"\x00\x00", _blob(_int_bytes(numbers.e)), _blob(_int_bytes(numbers.n)))
    )


def decode_public_key(raw: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from Handle binary, DER or PEM; ValueError when it is none."""
    if raw.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(raw)
    elif raw[:7] == b"\x00\x00\x00\x03RSA":
        try:
            r = Reader(raw)
            r.blob("key type", 16)
            r.take(2, "flags")
            e = int.from_bytes(r.blob("exponent", 1024), "big")
            n = int.from_bytes(r.blob("modulus", 2048), "big")
            r.finish("public key")
        except ProtocolError as exc:
            raise ValueError(str(exc)) from None
        key = rsa.RSAPublicNumbers(e, n).public_key()
    else:
        key = serialization.load_der_public_key(raw)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("only RSA public keys are supported")
    return key


def public_key_from_value(fmt: str, value: str) -> rsa.RSAPublicKey:
    """The key in an HS_PUBKEY value as we store it (key/base64/hex data, or PEM text)."""
    if fmt in ("key", "base64"):
        return decode_public_key(base64.b64decode(value))
    if fmt == "hex":
        return decode_public_key(bytes.fromhex(value))
    return decode_public_key(value.encode("utf-8"))


def secret_answer(secret: bytes, nonce: bytes, digest: bytes, code: int = HMAC_SHA256) -> bytes:
    """The HS_SECKEY answer to a challenge (client side; the server recomputes it)."""
    if code in _HMAC:
        return bytes((code,)) + hmac.new(secret, nonce + digest, _HMAC[code]).digest()
    if code in _DIGEST:
        return (
            bytes((code,)) + hashlib.new(_DIGEST[code], secret + nonce + digest + secret).digest()
        )
    raise ValueError(f"unsupported secret-key answer code {code}")


def check_secret_answer(secret: bytes, nonce: bytes, digest: bytes, answer: bytes) -> bool:
    if not answer or (answer[0] not in _HMAC and answer[0] not in _DIGEST):
        return False
    return hmac.compare_digest(secret_answer(secret, nonce, digest, answer[0]), answer)


def sign_answer(key: rsa.RSAPrivateKey, nonce: bytes, digest: bytes) -> bytes:
    """The HS_PUBKEY answer: algorithm name and RSA signature over nonce + digest."""
    signature = key.sign(nonce + digest, padding.PKCS1v15(), hashes.SHA256())
    return _blob(b"SHA256withRSA") + _blob(signature)


def check_signed_answer(key: rsa.RSAPublicKey, nonce: bytes, digest: bytes, answer: bytes) -> bool:
    try:
        r = Reader(answer)
        algorithm = r.blob("signature algorithm", 64)
        signature = r.blob("signature", 4096)
        r.finish("challenge answer")
    except ProtocolError:
        return False
    algo = _SIG_HASHES.get(algorithm)
    if algo is None:
        return False
    try:
        key.verify(signature, nonce + digest, padding.PKCS1v15(), algo)
    except (InvalidSignature, ValueError):
        return False
    return True


def server_key(settings: Settings) -> rsa.RSAPrivateKey:
    """The configured server key, or one generated into var_dir on first run and kept."""
    path = Path(settings.wire_key_file) if settings.wire_key_file else None
    if path is None:
        path = settings.var_dir / "wire_key.pem"
        if not path.exists():
            settings.var_dir.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pem)
            tmp.chmod(0o600)
            try:  # link, not rename: when several processes start at once, the first wins
                os.link(tmp, path)
                log.info("generated the wire server key %s", path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return loaded
