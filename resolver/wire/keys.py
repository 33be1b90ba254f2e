"""Keys and challenge answers of the Handle protocol (RFC 3652 §3.5).

Why a module of its own: the server verifies answers, the admin client and the tests
produce them, and both must agree byte for byte with CNRI's hdllib.

* Public keys travel in hdllib's binary form (HS_PUBKEY data, the key in an HS_SITE
  server record): core.handlekeys encodes and decodes it (a device's HTTP token is
  checked against the same values); this module re-exports that codec.
* ``HS_SECKEY`` answers, as Handle.net's ``SecretKeyAuthenticationInfo`` writes them:
  one hash-code byte, then either HMAC(secret, nonce + request digest) for codes 0x12
  (HMAC-SHA1) and 0x13 (HMAC-SHA256), or hash(secret + nonce + digest + secret) for
  codes 1 (MD5), 2 (SHA-1), 3 (SHA-256); the 2006 hdllib answers with SHA-1.
  ``digest`` is the raw request digest, without its hash-code byte.
* ``HS_PUBKEY`` answers: the signature-algorithm name (length-prefixed, e.g.
  ``SHA1withRSA``, ``SHA256withRSA``, ``SHA1withDSA``, or a bare hash id such as
  ``SHA1``, which is what the 2006 hdllib writes for DSA: the key's type completes it),
  then the signature (length-prefixed) over nonce + digest: RSA PKCS#1 v1.5, or DSA's
  DER (r, s).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa

from core.handlekeys import (  # noqa: F401 - the wire's key codec, re-exported for its callers
    DSA_PUB_KEY,
    RSA_PUB_KEY,
    PrivateKey,
    PublicKey,
    blob,
    decode_public_key,
    encode_public_key,
    public_key_from_value,
)
from core.settings import Settings
from resolver.wire.reader import ProtocolError, Reader

log = logging.getLogger("idnest.wire")

HMAC_SHA1: Final = 0x12
HMAC_SHA256: Final = 0x13
_HMAC: Final = {HMAC_SHA1: "sha1", HMAC_SHA256: "sha256"}
_DIGEST: Final = {1: "md5", 2: "sha1", 3: "sha256"}
_SIG_HASHES: Final[dict[bytes, tuple[type, hashes.HashAlgorithm]]] = {
    b"SHA1withRSA": (rsa.RSAPublicKey, hashes.SHA1()),  # noqa: S303 - hdllib 2006 signs so
    b"SHA256withRSA": (rsa.RSAPublicKey, hashes.SHA256()),
    b"SHA512withRSA": (rsa.RSAPublicKey, hashes.SHA512()),
    b"SHA1withDSA": (dsa.DSAPublicKey, hashes.SHA1()),  # noqa: S303 - CNRI's default keys
    b"SHA256withDSA": (dsa.DSAPublicKey, hashes.SHA256()),
}
_BARE_HASHES: Final[dict[bytes, hashes.HashAlgorithm]] = {
    b"SHA1": hashes.SHA1(),  # noqa: S303 - the 2006 hdllib names DSA answers so
    b"SHA256": hashes.SHA256(),
    b"SHA512": hashes.SHA512(),
}
"""Hash ids that hdllib writes in place of a signature algorithm (its DSA answers say
``SHA1``): the key's own type completes the algorithm (``getSigIdFromHashAlgId``)."""
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


def sign_answer(
    key: PrivateKey, nonce: bytes, digest: bytes, algorithm: bytes | None = None
) -> bytes:
    """The HS_PUBKEY answer: algorithm name and signature over nonce + digest.

    By default SHA256withRSA or SHA1withDSA (what hdllib signs DSA with)."""
    if algorithm is None:
        algorithm = b"SHA256withRSA" if isinstance(key, rsa.RSAPrivateKey) else b"SHA1withDSA"
    kind, algo = _SIG_HASHES[algorithm]
    data = nonce + digest
    if isinstance(key, rsa.RSAPrivateKey):
        if kind is not rsa.RSAPublicKey:
            raise ValueError(f"{algorithm.decode()} does not sign with an RSA key")
        signature = key.sign(data, padding.PKCS1v15(), algo)
    else:
        if kind is not dsa.DSAPublicKey:
            raise ValueError(f"{algorithm.decode()} does not sign with a DSA key")
        signature = key.sign(data, algo)
    return blob(algorithm) + blob(signature)


def check_signed_answer(key: PublicKey, nonce: bytes, digest: bytes, answer: bytes) -> bool:
    try:
        r = Reader(answer)
        algorithm = r.blob("signature algorithm", 64)
        signature = r.blob("signature", 4096)
        r.finish("challenge answer")
    except ProtocolError:
        return False
    kind_algo = _SIG_HASHES.get(algorithm)
    if kind_algo is None and algorithm in _BARE_HASHES:
        kind_algo = (type(key), _BARE_HASHES[algorithm])
    if kind_algo is None or not isinstance(key, kind_algo[0]):
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, nonce + digest, padding.PKCS1v15(), kind_algo[1])
        else:
            key.verify(signature, nonce + digest, kind_algo[1])
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
