"""Peppered bcrypt hashes of passwords and PINs, as the sign-in code uses them."""

from __future__ import annotations

import statistics
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator

import bcrypt
import pytest
from flask import Flask

from app.config import Config
from app.security.secrets import (
    check_password,
    check_password_and_pin,
    check_pin,
    hash_password,
    hash_pin,
    password_needs_rehash,
    pin_needs_rehash,
)


@pytest.fixture
def lj(app: Flask) -> Iterator[Config]:
    """The running service's settings, inside an app context (costs are 4 in tests)."""
    with app.app_context():
        yield app.config["LJ"]


def test_password_is_stored_as_a_bcrypt_hash_at_the_configured_cost(lj):
    stored = hash_password("a long family password")

    assert stored.startswith("$2b$04$")
    assert len(stored) == 60
    assert "family" not in stored


def test_equal_passwords_get_different_hashes_that_both_verify(lj):
    first = hash_password("a long family password")
    second = hash_password("a long family password")

    assert first != second
    assert check_password("a long family password", first)
    assert check_password("a long family password", second)


def test_wrong_password_is_refused(lj):
    stored = hash_password("a long family password")

    assert not check_password("a long family passwore", stored)
    assert not check_password("A long family password", stored)
    assert not check_password("", stored)


def test_hash_does_not_verify_under_another_pepper(lj, monkeypatch):
    stored = hash_password("a long family password")
    pin_stored = hash_pin("582941")

    monkeypatch.setattr(lj, "PEPPER", "a-different-pepper")

    assert not check_password("a long family password", stored)
    assert not check_pin("582941", pin_stored)


@pytest.mark.parametrize("prefix", ["x" * 100, "é" * 50, "🙂" * 20])
def test_long_passwords_differing_only_after_72_bytes_do_not_collide(lj, prefix):
    assert len(prefix.encode()) >= 72
    stored = hash_password(prefix + "1")

    assert check_password(prefix + "1", stored)
    assert not check_password(prefix + "2", stored)
    assert not check_password(prefix, stored)


def test_accents_typed_either_way_match(lj):
    composed = unicodedata.normalize("NFC", "crème brûlée for tea")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed

    assert check_password(decomposed, hash_password(composed))


def test_pin_is_stored_as_a_bcrypt_hash_at_the_pin_cost(lj, monkeypatch):
    monkeypatch.setattr(lj, "PIN_BCRYPT_COST", 5)

    stored = hash_pin("582941")

    assert stored.startswith("$2b$05$")
    assert check_pin("582941", stored)
    assert not check_pin("582942", stored)


def test_a_pin_hash_never_verifies_as_a_password(lj):
    assert not check_password("582941", hash_pin("582941"))
    assert not check_pin("582941", hash_password("582941"))


def test_rehash_is_needed_when_the_password_cost_changes(lj, monkeypatch):
    stored = hash_password("a long family password")
    assert not password_needs_rehash(stored)

    monkeypatch.setattr(lj, "PASSWORD_BCRYPT_COST", 5)

    assert password_needs_rehash(stored)
    assert not password_needs_rehash(hash_password("a long family password"))


def test_rehash_is_needed_when_the_pin_cost_changes(lj, monkeypatch):
    stored = hash_pin("582941")
    assert not pin_needs_rehash(stored)

    monkeypatch.setattr(lj, "PIN_BCRYPT_COST", 5)

    assert pin_needs_rehash(stored)
    assert not pin_needs_rehash(hash_pin("582941"))


@pytest.mark.parametrize("stored", ["", "not a hash", "$2a$04$" + "a" * 53, "$2b$4$short"])
def test_rehash_is_needed_for_anything_we_did_not_make(lj, stored):
    assert password_needs_rehash(stored)
    assert pin_needs_rehash(stored)


def test_nothing_stored_means_refused(lj):
    assert not check_password("a long family password", None)
    assert not check_pin("582941", None)


def test_damaged_stored_hash_is_refused_not_an_error(lj, caplog):
    assert not check_password("a long family password", "$2b$04$damaged")
    assert not check_pin("582941", "")
    assert "not a bcrypt hash" in caplog.text


@pytest.mark.parametrize("odd", ["", "\x00", "\ud800", "a\x00b" * 10_000, "é" * 100_000])
def test_odd_input_hashes_and_checks_without_raising(lj, odd):
    stored = hash_password(odd)

    assert check_password(odd, stored)
    assert not check_password(odd + "x", stored)
    assert not check_pin(odd, None)


def _median_cpu_seconds(
    first: Callable[[], bool], second: Callable[[], bool], runs: int = 9
) -> tuple[float, float]:
    """Each check's median CPU time in this thread (bcrypt runs in the caller's thread), taken
    in turns: other processes on a busy machine delay a check but add nothing to its CPU time,
    and a machine that gets busier slows both checks alike."""
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for check, spent in zip((first, second), timings, strict=True):
            start = time.thread_time()
            check()
            spent.append(time.thread_time() - start)
    return statistics.median(timings[0]), statistics.median(timings[1])


@pytest.mark.parametrize(
    ("hasher", "checker", "cost_name", "secret"),
    [
        (hash_password, check_password, "PASSWORD_BCRYPT_COST", "a long family password"),
        (hash_pin, check_pin, "PIN_BCRYPT_COST", "582941"),
    ],
)
def test_unknown_person_takes_about_as_long_as_a_real_check(
    lj, monkeypatch, hasher, checker, cost_name, secret
):
    # Cost 7 (about 8 ms) so a bcrypt run is well above timer and scheduler noise.
    monkeypatch.setattr(lj, cost_name, 7)
    stored = hasher(secret)
    checker(secret, None)  # makes the dummy hash for this cost once, as the first sign-in would

    real, unknown = _median_cpu_seconds(
        lambda: checker(secret, stored), lambda: checker(secret, None)
    )

    assert 0.5 < unknown / real < 2.0, f"unknown {unknown * 1000:.1f} ms, real {real * 1000:.1f} ms"


@pytest.mark.parametrize(
    ("password", "pin", "answer"),
    [
        ("a long family password", "582941", (True, True)),
        ("a long family passwore", "582941", (False, True)),
        ("a long family password", "582942", (True, False)),
        ("a long family passwore", "582942", (False, False)),
    ],
)
def test_password_and_pin_checked_together_answer_each(lj, password, pin, answer):
    stored_password, stored_pin = hash_password("a long family password"), hash_pin("582941")

    assert check_password_and_pin(password, stored_password, pin, stored_pin) == answer


def test_password_and_pin_of_nobody_are_both_refused(lj):
    assert check_password_and_pin("a long family password", None, "582941", None) == (False, False)


@pytest.mark.parametrize("stored", ["known", "unknown"])
def test_password_and_pin_are_checked_at_the_same_time(lj, monkeypatch, stored):
    # Each bcrypt comparison waits for the other to start: checked one after the other,
    # the first would wait in vain and the barrier break.
    both_running = threading.Barrier(2, timeout=10)
    compare = bcrypt.checkpw

    def checkpw_alongside_the_other(secret: bytes, hashed: bytes) -> bool:
        both_running.wait()
        return compare(secret, hashed)

    password_hash, pin_hash = hash_password("a long family password"), hash_pin("582941")
    monkeypatch.setattr(bcrypt, "checkpw", checkpw_alongside_the_other)
    hashes = (password_hash, pin_hash) if stored == "known" else (None, None)

    answer = check_password_and_pin("a long family password", hashes[0], "582941", hashes[1])

    assert answer == ((True, True) if stored == "known" else (False, False))


@pytest.mark.parametrize(
    ("password", "stored_password"),
    [
        ("a long family passwore", "hash"),  # wrong password
        ("a long family password", None),  # nobody with this email
        ("a long family password", "not a bcrypt hash"),  # a damaged stored hash
    ],
)
def test_the_pin_is_still_checked_when_the_password_fails(
    lj, monkeypatch, password, stored_password
):
    # Skipping the PIN's check after a failed password would make a wrong password answer
    # sooner than a wrong PIN: the time taken would say which one was wrong.
    password_hash, pin_hash = hash_password("a long family password"), hash_pin("582941")
    compared: list[bytes] = []
    compare = bcrypt.checkpw

    def recorded_checkpw(secret: bytes, hashed: bytes) -> bool:
        compared.append(hashed)
        return compare(secret, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", recorded_checkpw)
    stored = password_hash if stored_password == "hash" else stored_password

    answer = check_password_and_pin(password, stored, "582941", pin_hash)

    assert answer == (False, True)
    assert len(compared) == 2 and pin_hash.encode("ascii") in compared
