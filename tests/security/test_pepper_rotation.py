"""Rotating the pepper: hashes name their pepper's id, old peppers are still accepted,
and a sign-in re-hashes with the new one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.config import Config, ConfigError
from app.extensions import db
from app.security.secrets import check_password, check_pin, hash_password, password_needs_rehash
from tenants.binding import tenant_context
from tests.helpers.clients import client_for, make_user, sign_in

NEW_PEPPER = "a new pepper, long and random " * 2


@pytest.fixture
def lj(app):
    with app.app_context():
        yield app.config["LJ"]


def rotate(monkeypatch, lj: Config) -> str:
    """What the operator does: a new PEPPER with a new id, the old one kept as id 1."""
    old = lj.PEPPER
    monkeypatch.setattr(lj, "PEPPER", NEW_PEPPER)
    monkeypatch.setattr(lj, "PEPPER_ID", "2")
    monkeypatch.setattr(lj, "OLD_PEPPERS", {"1": old})
    return old


def test_first_pepper_hashes_carry_no_id_and_later_ones_do(lj, monkeypatch):
    assert hash_password("a long family password").startswith("$2b$")
    rotate(monkeypatch, lj)
    assert hash_password("a long family password").startswith("2:$2b$04$")


def test_a_hash_made_with_an_old_pepper_still_checks_and_asks_to_be_rehashed(lj, monkeypatch):
    before = hash_password("a long family password")
    rotate(monkeypatch, lj)
    assert check_password("a long family password", before)
    assert not check_password("another long password", before)
    assert password_needs_rehash(before)
    after = hash_password("a long family password")
    assert check_password("a long family password", after)
    assert not password_needs_rehash(after)


def test_once_the_old_pepper_is_dropped_its_hashes_no_longer_check(lj, monkeypatch):
    before = hash_password("a long family password")
    rotate(monkeypatch, lj)
    monkeypatch.setattr(lj, "OLD_PEPPERS", {})
    assert not check_password("a long family password", before)
    assert not check_pin("402917", before)


def signs_in(client, email: str) -> bool:
    answer = sign_in(client, email)
    return answer.status_code == 303 and not answer.headers["Location"].endswith("/login")


def test_sign_in_after_a_rotation_rehashes_with_the_new_pepper(app, make_app, make_setting):
    setting = make_setting()
    with app.app_context():
        email = make_user(setting.slug, role="staff")
        old_pepper = app.config["LJ"].PEPPER
    rotated = make_app(PEPPER=NEW_PEPPER, PEPPER_ID="2", OLD_PEPPERS=f"1={old_pepper}")
    assert signs_in(client_for(rotated, setting.slug), email)
    with rotated.app_context(), tenant_context(setting.slug):
        hashes = db.session.execute(
            select(User.password_hash, User.pin_hash).where(User.email == email)
        ).one()
    assert all(stored.startswith("2:$2b$") for stored in hashes)
    # Signed in again with only the new pepper: the old one can now be dropped.
    only_new = make_app(PEPPER=NEW_PEPPER, PEPPER_ID="2", OLD_PEPPERS="")
    assert signs_in(client_for(only_new, setting.slug), email)
    dropped_too_soon = make_app(PEPPER=NEW_PEPPER, PEPPER_ID="3", OLD_PEPPERS="")
    assert not signs_in(client_for(dropped_too_soon, setting.slug), email)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PEPPER_ID": "two words"}, "must be 1 to 16 letters or digits"),
        ({"PEPPER_ID": "2", "OLD_PEPPERS": "2=xyz"}, "give the new pepper a new id"),
        ({"OLD_PEPPERS": "1"}, "id=value pairs"),
    ],
)
def test_pepper_ids_are_checked_at_start_up(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        Config()
