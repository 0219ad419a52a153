"""Small secrets kept in the database encrypted: authenticator-app (TOTP) secrets.

A TOTP secret must be readable by us (we compute the same codes as the person's
app), so unlike a password it cannot be hashed. It is sealed with AES-256-GCM
under a key derived with HKDF-SHA256 from ``TOTP_KEY``, which lives only in the
environment: a copy of the database alone cannot make a single code.

The sealed text is ``v1.<base64url of nonce | ciphertext and tag>``. The
associated data names what the secret belongs to (``totp:<user id>``), so a
sealed secret copied onto another person's row does not open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

VERSION = "v1"
NONCE_BYTES = 12


class SealBroken(RuntimeError):
    """A sealed value does not open: another ``TOTP_KEY``, or it was altered or moved."""


def _key() -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"learning-journals totp v1"
    ).derive(current_app.config["LJ"].TOTP_KEY.encode())


def seal(secret: str, belongs_to: str) -> str:
    """``secret`` encrypted for storage, bound to ``belongs_to``."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key()).encrypt(nonce, secret.encode(), belongs_to.encode())
    return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def unseal(sealed: str, belongs_to: str) -> str:
    """The secret ``seal`` was given; raises ``SealBroken`` if it cannot be opened."""
    version, _, payload = sealed.partition(".")
    if version != VERSION:
        raise SealBroken(f"unknown sealed format {version!r}")
    raw = base64.urlsafe_b64decode(payload)
    try:
        plain = AESGCM(_key()).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], belongs_to.encode())
    except InvalidTag as error:
        raise SealBroken("the sealed secret does not open with this TOTP_KEY") from error
    return plain.decode()
