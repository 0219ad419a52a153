"""Backup files encrypted at rest: AES-256-GCM, streamed in chunks, keyed by ``BACKUP_KEY``.

A file is a header and a sequence of chunks (the STREAM construction of Hoang,
Reyhanitabar, Rogaway and Vizár, as Tink and age use it):

    header = "LJBACKUP" | version (1 byte) | salt (16) | key check (16)
    chunk  = AES-GCM(file key, nonce = chunk number (8) | last? (1) | 0 0 0,
                     up to 1 MiB of plaintext, associated data = header)

The file key is HKDF-SHA256 of ``BACKUP_KEY`` with the file's random salt, so
no two files share a key and the chunk number can be the nonce. Every chunk is
authenticated, its number is bound in the nonce (chunks cannot be reordered)
and only the last chunk is marked last (a file cut short at a chunk boundary
is detected). The key check, an HMAC of the file key, tells a wrong key from a
damaged file, so the operator gets the right message.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"LJBACKUP"
VERSION = 1
SALT_BYTES = 16
CHECK_BYTES = 16
HEADER_BYTES = len(MAGIC) + 1 + SALT_BYTES + CHECK_BYTES
CHUNK_BYTES = 1024 * 1024
TAG_BYTES = 16


class BackupUnreadable(RuntimeError):
    """A backup file cannot be decrypted; the message says why, for the operator."""


class WrongBackupKey(BackupUnreadable):
    """The file was encrypted with another BACKUP_KEY."""


class BackupCorrupt(BackupUnreadable):
    """The file is damaged or cut short."""


def _file_key(backup_key: str, salt: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt, info=b"learning-journals backup v1"
    ).derive(backup_key.encode())


def _key_check(file_key: bytes) -> bytes:
    return hmac.new(file_key, b"key check", hashlib.sha256).digest()[:CHECK_BYTES]


def _nonce(number: int, last: bool) -> bytes:
    return number.to_bytes(8, "big") + (b"\x01" if last else b"\x00") + b"\x00\x00\x00"


class EncryptingWriter:
    """A binary file-like object that encrypts what is written to ``path``.

    ``close()`` writes the last chunk and fsyncs; ``sha256`` is then the hex
    digest of the encrypted file, for the manifest.
    """

    def __init__(self, path: Path, backup_key: str) -> None:
        salt = os.urandom(SALT_BYTES)
        key = _file_key(backup_key, salt)
        self._aead = AESGCM(key)
        self._header = MAGIC + bytes([VERSION]) + salt + _key_check(key)
        self._file: BinaryIO = path.open("xb")
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self._number = 0
        self.plain_bytes = 0
        self._put(self._header)

    def _put(self, data: bytes) -> None:
        self._file.write(data)
        self._digest.update(data)

    def _seal(self, plaintext: bytes, last: bool) -> None:
        self._put(self._aead.encrypt(_nonce(self._number, last), plaintext, self._header))
        self._number += 1

    def write(self, data: bytes) -> int:
        self._buffer += data
        self.plain_bytes += len(data)
        # Keep at least one byte back: the last chunk must be sealed as last.
        while len(self._buffer) > CHUNK_BYTES:
            self._seal(bytes(self._buffer[:CHUNK_BYTES]), last=False)
            del self._buffer[:CHUNK_BYTES]
        return len(data)

    def close(self) -> None:
        if self._file.closed:
            return
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abandon(self) -> None:
        """Close without sealing (the caller removes the partial file)."""
        self._file.close()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


def decrypted_chunks(
    path: Path, backup_key: str, expected_sha256: str | None = None
) -> Iterator[bytes]:
    """The plaintext of ``path``, chunk by chunk, each authenticated before it is given.

    Raises ``WrongBackupKey`` or ``BackupCorrupt`` (possibly after some chunks:
    a caller that must not act on a damaged file reads it whole first). With
    ``expected_sha256`` (the manifest's), the encrypted file's digest, taken in
    the same pass, is checked after the last chunk: a whole file of another
    backup made with the same key is refused too.
    """
    digest = hashlib.sha256()
    with path.open("rb") as file:
        header = file.read(HEADER_BYTES)
        digest.update(header)
        if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
            raise BackupCorrupt(f"{path.name} is not a Learning Journals backup file")
        if header[len(MAGIC)] != VERSION:
            raise BackupCorrupt(f"{path.name} has an unknown format version {header[8]}")
        salt = header[len(MAGIC) + 1 : len(MAGIC) + 1 + SALT_BYTES]
        key = _file_key(backup_key, salt)
        if not hmac.compare_digest(_key_check(key), header[-CHECK_BYTES:]):
            raise WrongBackupKey(
                f"{path.name} was encrypted with another key: BACKUP_KEY is not the key "
                "this backup was made with"
            )
        aead = AESGCM(key)
        number = 0
        sealed = file.read(CHUNK_BYTES + TAG_BYTES)
        digest.update(sealed)
        while True:
            following = file.read(CHUNK_BYTES + TAG_BYTES)
            digest.update(following)
            last = not following
            try:
                yield aead.decrypt(_nonce(number, last), sealed, header)
            except InvalidTag:
                raise BackupCorrupt(
                    f"{path.name} is damaged or cut short (chunk {number} does not authenticate)"
                ) from None
            if last:
                break
            sealed, number = following, number + 1
    if expected_sha256 is not None and digest.hexdigest() != expected_sha256:
        raise BackupCorrupt(
            f"{path.name} is not the file its manifest names (from another backup?)"
        )


class DecryptingReader:
    """A binary file-like ``read()`` over ``decrypted_chunks`` (for ``tarfile`` streams)."""

    def __init__(self, path: Path, backup_key: str, expected_sha256: str | None = None) -> None:
        self._chunks = decrypted_chunks(path, backup_key, expected_sha256)
        self._chunk = b""
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        wanted = size
        while wanted != 0:
            if self._offset == len(self._chunk):
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._chunk, self._offset = chunk, 0
            end = len(self._chunk) if wanted < 0 else min(len(self._chunk), self._offset + wanted)
            parts.append(self._chunk[self._offset : end])
            if wanted > 0:
                wanted -= end - self._offset
            self._offset = end
        return b"".join(parts)

    def read_to_end(self) -> None:
        """Read what is left (a tar stream ends before its padding), so that the whole
        file is authenticated and its digest checked."""
        while self.read(CHUNK_BYTES):
            pass
