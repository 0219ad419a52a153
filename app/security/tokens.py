"""One-time link tokens (activation, reset, email change) and the digests we store.

The token goes into the emailed URL; only its SHA-256 digest is stored, so a copy
of the database cannot be turned into working links. A fast hash is right here,
unlike for passwords: the token is 256 random bits, so there is nothing to guess
that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32  # 256 bits; token_urlsafe makes 43 characters of them

# What new_link_token can produce, with room to spare. Anything else cannot be
# one of our tokens: no need to hash a megabyte someone pasted into the URL.
_PLAUSIBLE_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")

# Never equal to a SHA-256 digest we store (finding an input that hashes to it
# is as hard as breaking SHA-256), so a lookup with it finds no link.
NO_TOKEN_DIGEST = "0" * 64


def new_link_token() -> tuple[str, str]:
    """A fresh token for a URL (256 random bits, URL-safe) and the digest to store for it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest (64 characters) of ``token``; never raises.

    Input that cannot be one of our tokens (empty, too long, non-ASCII, NUL, ...)
    gets ``NO_TOKEN_DIGEST``, which matches no stored link.
    """
    if not isinstance(token, str) or not _PLAUSIBLE_TOKEN.fullmatch(token):
        return NO_TOKEN_DIGEST
    return hashlib.sha256(token.encode("ascii")).hexdigest()
