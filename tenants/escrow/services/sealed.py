"""Sealed escrow files: compressed, encrypted in authenticated chunks, streamed.

A file is ``MAGIC`` and then frames ``[4-byte length][12-byte nonce][AES-256-GCM
ciphertext + tag]`` of at most ``CHUNK`` bytes of zlib-compressed NDJSON each. Every
frame's associated data names the set, the file, the frame's number and whether it is
the last, so a frame moved to another place, another file or another set, a dropped
frame or a cut-off file fails to decrypt: the reader raises ``EscrowRefused``. Memory
stays at a chunk or two, whatever the size of the node.

The key is ``IDNEST_ESCROW_KEY`` (base64 of 32 bytes). The manifest is signed with the
node's key (core.crypto) and authenticated with a MAC under a key derived from the
escrow key, so a set is refused unless both hold (``check_manifest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core import crypto
from core.errors import IdnestError
from core.settings import Settings

MAGIC = b"IDNESC1\n"
CHUNK = 1 << 20
_MAX_FRAME = CHUNK + 1024
FORMAT = "idnest-escrow/1"


class EscrowRefused(IdnestError):
    """An escrow set that cannot be used: no key, a bad signature, a changed byte."""

    http_status = 422
    title = "Escrow set refused"


def escrow_key(settings: Settings) -> bytes:
    if not settings.escrow_key:
        raise EscrowRefused("no escrow key: set IDNEST_ESCROW_KEY (base64 of 32 random bytes)")
    try:
        key = base64.b64decode(settings.escrow_key, validate=True)
    except ValueError:
        raise EscrowRefused("IDNEST_ESCROW_KEY is not base64") from None
    if len(key) != 32:
        raise EscrowRefused(f"IDNEST_ESCROW_KEY must be 32 bytes (AES-256); it is {len(key)}")
    return key


def _aad(set_id: str, name: str, index: int, final: bool) -> bytes:
    return f"{FORMAT}|{set_id}|{name}|{index}|{int(final)}".encode()


class SealedWriter:
    """Writes one sealed file; ``close`` returns (rows, sha256 of the file, size)."""

    def __init__(self, path: Path, key: bytes, set_id: str) -> None:
        self._fh: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._fh.write(MAGIC)
        self._hash = hashlib.sha256(MAGIC)
        self._size = len(MAGIC)
        self._aead = AESGCM(key)
        self._zip = zlib.compressobj(6)
        self._buf = bytearray()
        self._index = 0
        self._set, self._name = set_id, path.name
        self.rows = 0

    def write_line(self, line: bytes) -> None:
        self.rows += 1
        self._buf += self._zip.compress(line + b"\n")
        while len(self._buf) >= CHUNK:
            self._frame(bytes(self._buf[:CHUNK]), final=False)
            del self._buf[:CHUNK]

    def _frame(self, chunk: bytes, *, final: bool) -> None:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, chunk, _aad(self._set, self._name, self._index, final))
        frame = struct.pack(">I", len(sealed)) + nonce + sealed
        self._fh.write(frame)
        self._hash.update(frame)
        self._size += len(frame)
        self._index += 1

    def close(self) -> tuple[int, str, int]:
        self._buf += self._zip.flush()
        while len(self._buf) > CHUNK:
            self._frame(bytes(self._buf[:CHUNK]), final=False)
            del self._buf[:CHUNK]
        self._frame(bytes(self._buf), final=True)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        return self.rows, self._hash.hexdigest(), self._size


def read_lines(path: Path, key: bytes, set_id: str) -> Iterator[bytes]:
    """The NDJSON lines of a sealed file, decrypted frame by frame."""
    aead = AESGCM(key)
    unzip = zlib.decompressobj()
    pending = b""
    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise EscrowRefused(f"{path.name} is not a sealed escrow file")
        index, final = 0, False
        while not final:
            head = fh.read(16)
            if len(head) < 16:
                raise EscrowRefused(f"{path.name} is cut off after frame {index}")
            (length,) = struct.unpack(">I", head[:4])
            sealed = fh.read(length) if length <= _MAX_FRAME else b""
            if len(sealed) != length or not sealed:
                raise EscrowRefused(f"{path.name}: frame {index} is damaged")
            chunk = _open_frame(aead, head[4:], sealed, path.name, set_id, index)
            if chunk is None:
                chunk, final = _open_frame(aead, head[4:], sealed, path.name, set_id, index,
                                           final=True), True  # fmt: skip
            if chunk is None:
                raise EscrowRefused(f"{path.name}: frame {index} does not decrypt (tampered?)")
            pending += unzip.decompress(chunk)
            *lines, pending = pending.split(b"\n")
            yield from lines
            index += 1
        if fh.read(1):
            raise EscrowRefused(f"{path.name} has bytes after its last frame")
    pending += unzip.flush()
    if pending.strip():
        raise EscrowRefused(f"{path.name} ends inside a line")


def _open_frame(aead: AESGCM, nonce: bytes, sealed: bytes, name: str, set_id: str,
                index: int, *, final: bool = False) -> bytes | None:  # fmt: skip
    try:
        return aead.decrypt(nonce, sealed, _aad(set_id, name, index, final))
    except InvalidTag:
        return None


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _mac(key: bytes, data: bytes) -> str:
    mac_key = hashlib.sha256(b"idnest:escrow-manifest:v1\0" + key).digest()
    return hmac.new(mac_key, data, hashlib.sha256).hexdigest()


def seal_manifest(directory: Path, manifest: dict[str, Any], key: bytes) -> None:
    data = json.dumps(manifest, sort_keys=True, ensure_ascii=False, indent=1).encode()
    signature = {
        "alg": "Ed25519",
        "public_key": crypto.public_signing_key(),
        "signature": crypto.sign(data),
        "mac": _mac(key, data),
    }
    for name, body in (("manifest.json", data), ("manifest.sig", json.dumps(signature).encode())):
        with open(directory / name, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())


def check_manifest(directory: Path, key: bytes, public_key: str | None = None) -> dict[str, Any]:
    """The set's manifest, once its MAC and node signature hold; else EscrowRefused."""
    try:
        data = (directory / "manifest.json").read_bytes()
        signature = json.loads((directory / "manifest.sig").read_bytes())
    except (OSError, ValueError) as exc:
        raise EscrowRefused(f"{directory.name}: no readable manifest ({exc})") from None
    if not isinstance(signature, dict) or not hmac.compare_digest(
        str(signature.get("mac", "")), _mac(key, data)
    ):
        raise EscrowRefused(f"{directory.name}: the manifest was not made with this escrow key "
                            "or was changed")  # fmt: skip
    signer = str(signature.get("public_key", ""))
    if public_key and signer != public_key:
        raise EscrowRefused(f"{directory.name}: signed by {signer}, not the expected node key")
    if not crypto.verify_signature(signer, str(signature.get("signature", "")), data):
        raise EscrowRefused(f"{directory.name}: the node signature does not hold")
    manifest: dict[str, Any] = json.loads(data)
    if manifest.get("format") != FORMAT:
        raise EscrowRefused(f"{directory.name}: unknown format {manifest.get('format')!r}")
    return manifest


def check_files(directory: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest names is there with its hash and size."""
    for entry in manifest["files"]:
        path = directory / entry["name"]
        if not path.is_file():
            raise EscrowRefused(f"{directory.name}: {entry['name']} is missing")
        digest, size = file_digest(path)
        if digest != entry["sha256"] or size != entry["bytes"]:
            raise EscrowRefused(f"{directory.name}: {entry['name']} was changed (hash mismatch)")
