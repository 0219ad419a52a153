"""The environment production needs, and what the test run sets that production refuses."""

from __future__ import annotations

# Set for speed by the test app; production refuses them.
TEST_ONLY_SETTINGS = ("PASSWORD_BCRYPT_COST", "PIN_BCRYPT_COST", "RATELIMIT_ENABLED")


# Left in the environment by the test run (the test SMTP server) or other tests' apps.
SET_BY_THE_TEST_RUN = ("SECURE_COOKIES", "PROXY_HOPS", "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY")


PRODUCTION_ENV = {
    "LJ_ENV": "production",
    "SECRET_KEY": "s" * 64,
    "PEPPER": "p" * 64,
    "DATABASE_URL": "postgresql://lj@127.0.0.1:5432/lj",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "BACKUP_KEY": "b" * 64,
    "TOTP_KEY": "t" * 64,
    "PUBLIC_URL": "https://journals.example.org",
}
