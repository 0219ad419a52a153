"""Start-up refuses bcrypt costs that are unusable, or too weak for production."""

from __future__ import annotations

import pytest

from app.config import Config, ConfigError


def test_production_starts_with_the_default_costs(production_env):
    config = Config()

    assert config.PASSWORD_BCRYPT_COST == 12
    assert config.PIN_BCRYPT_COST == 10


def test_production_refuses_a_password_cost_below_12(production_env):
    production_env.setenv("PASSWORD_BCRYPT_COST", "11")

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
def test_a_cost_bcrypt_cannot_use_is_refused(production_env, name, value):
    production_env.setenv(name, value)

    with pytest.raises(ConfigError, match=f"{name} must be between 4 and 31"):
        Config()


def test_production_refuses_rate_limits_turned_off(production_env):
    production_env.setenv("RATELIMIT_ENABLED", "0")

    with pytest.raises(ConfigError, match="RATELIMIT_ENABLED is off, but production needs"):
        Config()


def test_rate_limits_are_on_unless_turned_off(production_env):
    assert Config().flask_settings()["RATELIMIT_ENABLED"] is True
