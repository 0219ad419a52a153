"""Configuration: secrets must come from the environment in production; dev keeps its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Config, ConfigError
from tests.helpers.environment import PRODUCTION_ENV, TEST_ONLY_SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def test_production_with_everything_set_starts_secure_behind_one_proxy(production_env):
    config = Config()
    assert config.SECURE_COOKIES and config.PROXY_HOPS == 1


@pytest.mark.parametrize("missing", sorted(set(PRODUCTION_ENV) - {"LJ_ENV"}))
def test_production_without_a_required_variable_stops_with_a_message(production_env, missing):
    production_env.delenv(missing)
    with pytest.raises(ConfigError, match=f"{missing} is not set") as refused:
        Config()
    others = set(PRODUCTION_ENV) - {"LJ_ENV", missing}
    assert not [name for name in others if name in str(refused.value)]


def test_production_refuses_cookies_without_secure(production_env):
    production_env.setenv("SECURE_COOKIES", "0")
    with pytest.raises(ConfigError, match="SECURE_COOKIES is off"):
        Config()


def test_production_names_every_missing_variable_at_once(production_env):
    for name in ("PEPPER", "BACKUP_KEY"):
        production_env.delenv(name)
    with pytest.raises(ConfigError) as refused:
        Config()
    assert "PEPPER is not set" in str(refused.value)
    assert "BACKUP_KEY is not set" in str(refused.value)


@pytest.mark.parametrize(
    "public_url", ["http://journals.example.org", "HTTP://journals.example.org"]
)
def test_production_refuses_a_public_url_that_is_not_https(production_env, public_url):
    """Emailed links (password resets, invitations, leaving packs) are built on PUBLIC_URL:
    over plain http their first request would carry the link's token in clear."""
    production_env.setenv("PUBLIC_URL", public_url)
    with pytest.raises(ConfigError, match="PUBLIC_URL must be an https:// address in production"):
        Config()


def test_production_start_up_stops_before_serving_anything(servers):
    unset = ("SECRET_KEY", "PEPPER", *TEST_ONLY_SETTINGS)
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(LJ_ENV="production", DATABASE_URL=servers["DATABASE_URL"])
    started = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "tenants", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "SECRET_KEY is not set" in started.stderr


def test_development_generates_secrets_once_and_keeps_them(monkeypatch, tmp_path):
    monkeypatch.setenv("LJ_ENV", "development")
    monkeypatch.setenv("LJ_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("PEPPER", raising=False)
    first, second = Config(), Config()
    assert len(first.SECRET_KEY) >= 32 and first.PEPPER != first.SECRET_KEY
    assert (first.SECRET_KEY, first.PEPPER) == (second.SECRET_KEY, second.PEPPER)
    assert oct((tmp_path / "secrets" / "pepper").stat().st_mode)[-3:] == "600"


def test_console_script_runs_the_operator_commands(app, make_setting):
    setting = make_setting(name="Script Test Nursery")
    listed = subprocess.run(
        [str(Path(sys.executable).with_name("lj-tenants")), "list"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert setting.slug in listed.stdout and "Script Test Nursery" in listed.stdout


def test_production_sends_mail_over_tls_by_default(production_env):
    config = Config()
    assert (config.SMTP_SECURITY, config.SMTP_PORT) == ("starttls", 587)


def test_production_refuses_plain_smtp_to_another_machine(production_env):
    production_env.setenv("SMTP_SECURITY", "none")
    production_env.setenv("SMTP_HOST", "smtp.example.org")
    with pytest.raises(ConfigError, match="SMTP_SECURITY is none, but SMTP_HOST"):
        Config()
    production_env.setenv("SMTP_HOST", "127.0.0.1")
    assert Config().SMTP_PORT == 25  # a relay on this machine


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMTP_SECURITY": "ssl"}, "must be starttls, tls or none"),
        ({"SMTP_SECURITY": "tls", "SMTP_USERNAME": "mailer"}, "go together"),
        (
            {"SMTP_SECURITY": "none", "SMTP_USERNAME": "mailer", "SMTP_PASSWORD": "pw"},
            "would cross the network in clear",
        ),
        ({"SMTP_CA_FILE": "/no/such/ca.pem"}, "is not a readable file"),
    ],
)
def test_smtp_settings_are_checked_at_start_up(production_env, env, message):
    for name, value in env.items():
        production_env.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        Config()


@pytest.mark.parametrize(("raw", "message"), [("-1", "0 or more"), ("three", "whole number")])
def test_a_spare_schemas_setting_that_is_not_a_count_stops_start_up(production_env, raw, message):
    production_env.setenv("SPARE_SCHEMAS", raw)
    with pytest.raises(ConfigError, match=f"SPARE_SCHEMAS must be .*{message}"):
        Config()
