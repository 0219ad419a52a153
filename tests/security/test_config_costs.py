"""Start-up refuses bcrypt costs that are unusable, or too weak for production."""

from __future__ import annotations

import pytest

from app.config import Config, ConfigError


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv("LJ_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    monkeypatch.setenv("PEPPER", "p" * 64)
    monkeypatch.delenv("PASSWORD_BCRYPT_COST", raising=False)
    monkeypatch.delenv("PIN_BCRYPT_COST", raising=False)
    monkeypatch.delenv("RATELIMIT_ENABLED", raising=False)
    return monkeypatch


def test_production_starts_with_the_default_costs(production):
    config = Config()

    assert config.PASSWORD_BCRYPT_COST == 12
    assert config.PIN_BCRYPT_COST == 10


def test_production_refuses_a_password_cost_below_12(production):
    production.setenv("PASSWORD_BCRYPT_COST", "11")

    with pytest.raises(ConfigError, match="PASSWORD_BCRYPT_COST is 11, but production needs"):
        Config()


def test_development_allows_a_low_password_cost(monkeypatch, tmp_path):
    monkeypatch.setenv("LJ_ENV", "development")
    monkeypatch.setenv("LJ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PASSWORD_BCRYPT_COST", "4")

    assert Config().PASSWORD_BCRYPT_COST == 4


@pytest.mark.parametrize(
    ("name", "value"), [("PIN_BCRYPT_COST", "3"), ("PASSWORD_BCRYPT_COST", "32")]
)
def test_a_cost_bcrypt_cannot_use_is_refused(production, name, value):
    production.setenv(name, value)

    with pytest.raises(ConfigError, match=f"{name} must be between 4 and 31"):
        Config()


def test_production_refuses_rate_limits_turned_off(production):
    production.setenv("RATELIMIT_ENABLED", "0")

    with pytest.raises(ConfigError, match="RATELIMIT_ENABLED is off, but production needs"):
        Config()


def test_rate_limits_are_on_unless_turned_off(production):
    assert Config().flask_settings()["RATELIMIT_ENABLED"] is True
