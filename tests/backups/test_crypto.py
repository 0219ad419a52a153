"""Backup files: AES-256-GCM in chunks; a wrong key, a changed byte, reordered or missing
chunks are all refused, each with its own message."""

from __future__ import annotations

import hashlib
import os

import pytest

from app.backups.crypto import (
    CHUNK_BYTES,
    HEADER_BYTES,
    TAG_BYTES,
    BackupCorrupt,
    DecryptingReader,
    EncryptingWriter,
    WrongBackupKey,
    decrypted_chunks,
)

KEY = "a long random backup key for the tests"
SEALED = CHUNK_BYTES + TAG_BYTES


def encrypt(path, data: bytes) -> EncryptingWriter:
    writer = EncryptingWriter(path, KEY)
    for start in range(0, len(data), 100_000):
        writer.write(data[start : start + 100_000])
    writer.close()
    return writer


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES, 2 * CHUNK_BYTES + 7])
def test_what_is_encrypted_decrypts_to_the_same_bytes(tmp_path, size):
    data = os.urandom(size)
    writer = encrypt(tmp_path / "file", data)

    assert b"".join(decrypted_chunks(tmp_path / "file", KEY)) == data
    reader = DecryptingReader(tmp_path / "file", KEY)
    assert b"".join(iter(lambda: reader.read(10_240), b"")) == data
    assert writer.sha256 == hashlib.sha256((tmp_path / "file").read_bytes()).hexdigest()


def test_another_key_is_named_as_the_problem(tmp_path):
    encrypt(tmp_path / "file", b"journal")
    with pytest.raises(WrongBackupKey, match="another key"):
        list(decrypted_chunks(tmp_path / "file", "not the key"))


def _damaged(tmp_path, change) -> None:
    data = os.urandom(3 * CHUNK_BYTES)
    encrypt(tmp_path / "file", data)
    raw = (tmp_path / "file").read_bytes()
    (tmp_path / "file").write_bytes(change(raw))
    with pytest.raises(BackupCorrupt, match="damaged or cut short"):
        b"".join(decrypted_chunks(tmp_path / "file", KEY))


def test_a_changed_byte_is_refused(tmp_path):
    _damaged(tmp_path, lambda raw: raw[:5000] + bytes([raw[5000] ^ 1]) + raw[5001:])


def test_a_file_cut_at_a_chunk_boundary_is_refused(tmp_path):
    _damaged(tmp_path, lambda raw: raw[: HEADER_BYTES + 2 * SEALED])


def test_chunks_put_in_another_order_are_refused(tmp_path):
    def swap_first_two(raw: bytes) -> bytes:
        first = raw[HEADER_BYTES : HEADER_BYTES + SEALED]
        second = raw[HEADER_BYTES + SEALED : HEADER_BYTES + 2 * SEALED]
        return raw[:HEADER_BYTES] + second + first + raw[HEADER_BYTES + 2 * SEALED :]

    _damaged(tmp_path, swap_first_two)


def test_a_file_that_is_no_backup_is_named_so(tmp_path):
    (tmp_path / "file").write_bytes(b"PGDMP plain dump")
    with pytest.raises(BackupCorrupt, match="not a Learning Journals backup file"):
        list(decrypted_chunks(tmp_path / "file", KEY))


def test_a_whole_file_of_another_backup_is_refused_by_its_checksum(tmp_path):
    kept = encrypt(tmp_path / "kept", b"this backup's dump")
    encrypt(tmp_path / "other", b"another backup's dump, same key")

    assert b"".join(decrypted_chunks(tmp_path / "kept", KEY, kept.sha256)) == b"this backup's dump"
    with pytest.raises(BackupCorrupt, match="not the file its manifest names"):
        b"".join(decrypted_chunks(tmp_path / "other", KEY, kept.sha256))
