"""Peppered bcrypt hashes of passwords and PINs, and checking them.

Every secret is first run through HMAC-SHA256 keyed with the PEPPER (which lives
only in the environment, never in the database), then hashed with bcrypt. The
pre-hash is the base64 of the 32-byte HMAC digest: 44 ASCII bytes, so bcrypt's
72-byte limit never truncates a long password and no NUL byte ever reaches it.

The text is NFKC-normalised before the HMAC (as NIST SP 800-63B advises), so the
same password typed on two keyboards that compose accents differently still
matches. Changing the normalisation or the HMAC message layout would invalidate
every stored hash.

The pepper can be rotated. Each pepper has a short id (``PEPPER_ID``) and a hash
records the id of the pepper it was made with, as ``<id>:<bcrypt hash>``. Pepper
``1`` writes no id: it is the one every hash made before ids existed was made
with, and those hashes stay as they are. Checking accepts the current pepper and
the ones in ``OLD_PEPPERS``; a sign-in with a hash made with an old pepper
re-hashes it with the current one, like a hash at an old cost. Once an old
pepper is dropped, a hash still made with it cannot be checked: that person
resets their password and PIN by email (docs/deploy.md, rotating secrets).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Literal

import bcrypt
from flask import current_app

from app.config import Config

log = logging.getLogger(__name__)

SecretKind = Literal["password", "pin"]

# The cost of the PIN hash is lower than the password's on purpose.
# Measured on our machines: one bcrypt check takes 59 ms at cost 10, 117 ms at 11
# and 234 ms at 12. Signing in checks email + password + PIN, and on 2 cores that
# is 4.2 sign-ins/s with both at cost 12 but 6.8/s with the PIN at 10.
# A higher PIN cost would not buy real safety: a 6-digit PIN has only 10^6 values,
# which take about 16 core-hours to try at cost 10 and 65 at cost 12, a delay but
# no defence. What protects a PIN is (1) the pepper: someone holding a copy of the
# database alone cannot test even one guess, and (2) the account lockout against
# guessing online (5 failures: cool-down, 10: locked). So the PIN cost only has to
# make each guess cost something, and we keep the faster sign-in.
# (PASSWORD_BCRYPT_COST defaults to 12, PIN_BCRYPT_COST to 10; see app/config.py,
# which refuses a password cost below 12 in production.)

# Hashes made before peppers had ids carry none; they were made with this one.
FIRST_PEPPER_ID = "1"
_BCRYPT_HASH = re.compile(r"\$(?P<variant>2[aby])\$(?P<cost>\d\d)\$[./A-Za-z0-9]{53}")


def hash_password(password: str) -> str:
    """A new bcrypt hash (``$2b$``, fresh salt, configured cost) of the peppered password."""
    return _hash("password", password, _config().PASSWORD_BCRYPT_COST)


def hash_pin(pin: str) -> str:
    """A new bcrypt hash (``$2b$``, fresh salt, configured PIN cost) of the peppered PIN."""
    return _hash("pin", pin, _config().PIN_BCRYPT_COST)


def check_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; takes about as long when nothing is stored.

    ``stored`` is None for an unknown person or one without a password yet: the
    password is then checked against a dummy hash of the configured cost, so the
    answer (False) takes as long as a real check and does not tell who exists.
    """
    return _check("password", password, stored, _config().PASSWORD_BCRYPT_COST)


def check_pin(pin: str, stored: str | None) -> bool:
    """Whether ``pin`` matches ``stored``; with nothing stored, False after a dummy check."""
    return _check("pin", pin, stored, _config().PIN_BCRYPT_COST)


def check_password_and_pin(
    password: str, stored_password: str | None, pin: str, stored_pin: str | None
) -> tuple[bool, bool]:
    """Whether the password and the PIN match: ``check_password`` and ``check_pin`` at once.

    Both are always checked, so the time taken says nothing about which was wrong. The PIN
    is checked on a second thread while this one checks the password: bcrypt releases the
    GIL, so on two free cores a sign-in waits for the longer check (the password's, about
    234 ms at cost 12) instead of both one after the other (about 293 ms).
    """
    config = _config()
    password_check = _comparison("password", password, stored_password, config.PASSWORD_BCRYPT_COST)
    pin_check = _comparison("pin", pin, stored_pin, config.PIN_BCRYPT_COST)
    # A pool a call, not one a process: gunicorn forks workers after the app is loaded,
    # and a thread started before the fork would not exist in them. Starting one costs
    # about 0.1 ms.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pin-check") as pool:
        pin_ok = pool.submit(pin_check)
        password_ok = password_check()
        return password_ok, pin_ok.result()


def password_needs_rehash(stored: str) -> bool:
    """True unless ``stored`` is a ``$2b$`` hash at the configured password cost made
    with the current pepper."""
    return _needs_rehash(stored, _config().PASSWORD_BCRYPT_COST)


def pin_needs_rehash(stored: str) -> bool:
    """True unless ``stored`` is a ``$2b$`` hash at the configured PIN cost made with the
    current pepper."""
    return _needs_rehash(stored, _config().PIN_BCRYPT_COST)


def _needs_rehash(stored: str, cost: int) -> bool:
    pepper_id, bcrypt_hash = _split(stored)
    return pepper_id != _config().PEPPER_ID or _cost_of(bcrypt_hash) != cost


def _config() -> Config:
    return current_app.config["LJ"]


def _split(stored: str) -> tuple[str, str]:
    """The id of the pepper a stored hash was made with, and its bcrypt hash."""
    pepper_id, separator, bcrypt_hash = stored.partition(":")
    return (pepper_id, bcrypt_hash) if separator else (FIRST_PEPPER_ID, stored)


def _pepper(pepper_id: str) -> str | None:
    config = _config()
    return config.PEPPER if pepper_id == config.PEPPER_ID else config.OLD_PEPPERS.get(pepper_id)


def _prehash(kind: SecretKind, secret: str, pepper: str) -> bytes:
    """Base64 of HMAC-SHA256(pepper, kind NUL NFKC(secret)): 44 bytes, never a NUL.

    The kind in the message keeps a PIN hash from ever verifying as a password.
    "surrogatepass" lets any Python string through without raising.
    """
    text = unicodedata.normalize("NFKC", secret).encode("utf-8", "surrogatepass")
    message = kind.encode("ascii") + b"\0" + text
    return base64.b64encode(hmac.new(pepper.encode("utf-8"), message, hashlib.sha256).digest())


def _hash(kind: SecretKind, secret: str, cost: int) -> str:
    config = _config()
    salt = bcrypt.gensalt(rounds=cost, prefix=b"2b")
    bcrypt_hash = bcrypt.hashpw(_prehash(kind, secret, config.PEPPER), salt).decode("ascii")
    return (
        bcrypt_hash if config.PEPPER_ID == FIRST_PEPPER_ID else f"{config.PEPPER_ID}:{bcrypt_hash}"
    )


def _check(kind: SecretKind, secret: str, stored: str | None, cost: int) -> bool:
    return _comparison(kind, secret, stored, cost)()


def _comparison(kind: SecretKind, secret: str, stored: str | None, cost: int) -> Callable[[], bool]:
    """The bcrypt comparison of ``secret`` with ``stored``, to run on any thread (it needs
    no app context); with nothing usable stored, a dummy comparison that answers False."""
    if stored is not None:
        pepper_id, bcrypt_hash = _split(stored)
        pepper = _pepper(pepper_id)
        if pepper is None:
            # Its pepper was dropped from OLD_PEPPERS: only a reset by email helps now.
            log.warning("stored %s hash was made with pepper %r, not configured", kind, pepper_id)
        elif not _BCRYPT_HASH.fullmatch(bcrypt_hash):
            # A damaged hash in the database is our bug: say so, but refuse the sign-in
            # like any other wrong secret rather than showing the person an error page.
            log.error("stored %s hash is not a bcrypt hash; refusing the check", kind)
        else:
            prehash, expected = _prehash(kind, secret, pepper), bcrypt_hash.encode("ascii")
            return lambda: bcrypt.checkpw(prehash, expected)
    prehash, dummy = _prehash(kind, secret, _config().PEPPER), _dummy_hash(cost)

    def refuse_after_as_long() -> bool:
        bcrypt.checkpw(prehash, dummy)
        return False

    return refuse_after_as_long


@lru_cache(maxsize=8)
def _dummy_hash(cost: int) -> bytes:
    """A hash at ``cost`` that no pre-hash can match (bcrypt of a non-base64 string)."""
    return bcrypt.hashpw(b"no password or PIN pre-hashes to this!", bcrypt.gensalt(rounds=cost))


def _cost_of(stored: str) -> int | None:
    """The cost of a ``$2b$`` hash we made, or None for anything else."""
    match = _BCRYPT_HASH.fullmatch(stored)
    if match is None or match["variant"] != "2b":
        return None
    return int(match["cost"])


def recovery_code_digest(code: str) -> str:
    """The stored form of a recovery code: hex HMAC-SHA256 keyed with the current pepper.

    A fast keyed hash is enough: a code carries about 50 random bits, and without the
    pepper (never in the database) a copy of the table cannot test a single guess.
    """
    return _recovery_digest(code, _config().PEPPER)


def recovery_code_digests(code: str) -> list[str]:
    """The code's digest under the current pepper and each one in ``OLD_PEPPERS``, so
    codes made before a pepper rotation keep working."""
    config = _config()
    return [
        _recovery_digest(code, pepper) for pepper in (config.PEPPER, *config.OLD_PEPPERS.values())
    ]


def _recovery_digest(code: str, pepper: str) -> str:
    message = b"recovery\0" + code.encode("utf-8", "surrogatepass")
    return hmac.new(pepper.encode("utf-8"), message, hashlib.sha256).hexdigest()
