"""Checking and normalising what people type: names and email addresses."""

from __future__ import annotations

import re
import unicodedata

import regex
from email_validator import EmailNotValidError, validate_email

# Characters a name may not contain: controls, angle brackets and other markup.
_FORBIDDEN_IN_NAMES = re.compile(r"[<>{}\[\]\\|`$=;@#%^*_~\"]")
# Letters that show as nothing: Hangul fillers (and the braille blank, a symbol). A name
# made of them looks empty, and one hidden in a name makes two names look the same.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# A zero-width non-joiner or joiner between two letters (or marks) of a script that shapes
# its letters by them is part of a name: a Persian keyboard types one inside "محمد‌حسین",
# Indic scripts need them for half forms. Between Latin, Greek or Cyrillic letters, or
# beside no letter, it joins nothing and would only make two names look the same.
_SHAPING_LETTER = r"[[\p{L}\p{M}]--[\p{Latin}\p{Greek}\p{Cyrillic}]]"
_JOINER_IN_A_WORD = regex.compile(
    rf"(?<={_SHAPING_LETTER})[\u200c\u200d](?={_SHAPING_LETTER})", regex.V1
)


class InvalidInput(ValueError):
    """What a person typed cannot be used; the message tells them why."""


class InvalidField(InvalidInput):
    """Input refused; ``field`` names the form field the message belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


FieldErrors = dict[str, list[str]]


def field_errors(error: InvalidInput, default_field: str) -> FieldErrors:
    """A form's errors for a refused input: under the field it names, else ``default_field``."""
    return {getattr(error, "field", default_field): [str(error)]}


def clean_name(raw: str, *, field: str = "Name", max_length: int = 120) -> str:
    """A person's or setting's name: trimmed, NFC, any script, no controls or markup.

    Apostrophes, hyphens, full stops, commas, spaces and accents are welcome.
    """
    name = unicodedata.normalize("NFC", " ".join(raw.split()))
    if not name:
        raise InvalidInput(f"{field} is required.")
    if len(name) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters.")
    shown = _JOINER_IN_A_WORD.sub("", name)
    if any(unicodedata.category(ch).startswith("C") or ch in _BLANK_LETTERS for ch in shown):
        raise InvalidInput(f"{field} contains characters that cannot be shown.")
    if _FORBIDDEN_IN_NAMES.search(name):
        raise InvalidInput(
            f"{field} may contain letters, spaces, apostrophes, hyphens, full stops and commas."
        )
    if not any(ch.isalpha() for ch in name):
        raise InvalidInput(f"{field} must contain letters.")
    return name


def clean_email(raw: str) -> str:
    """A deliverable-looking email address, normalised and lower-cased.

    Lower-casing the whole address makes uniqueness case-insensitive; every
    real mail provider treats local parts that way.
    """
    candidate = raw.strip()
    if not candidate:
        raise InvalidInput("Email is required.")
    if len(candidate) > 254:
        raise InvalidInput("Email must be at most 254 characters.")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidInput(f"That email address is not valid: {error}") from error
    return checked.normalized.lower()


def email_to_look_up(raw: str) -> str:
    """A typed address in the form accounts are stored in (``clean_email``), so combining
    accents, an upper-case or ASCII (``xn--``) domain find the same account; an address
    that is not valid is only trimmed and lower-cased (it finds nobody)."""
    try:
        return clean_email(raw)
    except InvalidInput:
        return raw.strip().lower()
