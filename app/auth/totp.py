"""Authenticator-app codes (TOTP, RFC 6238): 6 digits, 30-second steps, SHA-1 as every app.

A code is accepted for the current step and one step either side (a phone's clock
drifts, and a person types for a few seconds), and only for a step later than the
last one accepted for that person, so an overheard code cannot be used again.
Time comes from ``app.clock``, so tests move it instead of waiting.
"""

from __future__ import annotations

import hmac
import re
import unicodedata

import pyotp
import segno

from app import clock

DRIFT_STEPS = 1
CODE = re.compile(r"[0-9]{6}")  # ASCII only: \d would take other scripts' digits too


def new_secret() -> str:
    """A fresh 160-bit secret in base32, as authenticator apps expect."""
    return pyotp.random_base32(length=32)


def current_step(secret: str) -> int:
    return pyotp.TOTP(secret).timecode(clock.now())


def matching_step(secret: str, code: str, *, after: int | None) -> int | None:
    """The time step ``code`` belongs to, within the drift and later than ``after``; or None."""
    # A phone's full-width keyboard types digits U+FF10-U+FF19: NFKC makes them 0-9, as the
    # PIN at sign-in takes them.
    code = re.sub(r"\s", "", unicodedata.normalize("NFKC", code))
    if not CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(clock.now())
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enrolment_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` address the QR code carries."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_code_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI, made here (no outside service)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
