"""Configuration: one class, read from environment variables, with safe defaults.

Every variable is documented in the table in README.md. In production
(``LJ_ENV=production``) a missing secret stops start-up with a clear message;
in development the secrets are generated once and kept in the local data folder,
so a second run reuses them (sessions and peppered hashes stay valid).
"""

from __future__ import annotations

import os
import re
import secrets
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path
from urllib.parse import urlsplit

from app.redis_store import limits_storage, sentinel_target

# Pooled connections older than this are replaced at checkout (app.database says why).
POOL_RECYCLE_SECONDS = 1800

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_NAMES = ("SECRET_KEY", "PEPPER")
# Production has no defaults for where its data lives or how it is reached and
# backed up: a forgotten variable must stop start-up, not point at a dev server.
REQUIRED_IN_PRODUCTION = {
    "DATABASE_URL": "the PostgreSQL database, e.g. postgresql://lj@127.0.0.1:5432/lj",
    "REDIS_URL": (
        "the Redis server for sessions, rate limits and jobs, e.g. redis://127.0.0.1:6379/0, "
        "or the Sentinels of its primary: redis+sentinel://host:26379,host2:26379/lj/0"
    ),
    "BACKUP_KEY": "the key that encrypts backups, kept apart from the backups themselves",
    "TOTP_KEY": "the key that encrypts authenticator-app secrets, kept apart from the database",
    "PUBLIC_URL": "the address people use, e.g. https://journals.example.org",
}
MAX_REQUEST_MB = 60  # a form with several photos (each up to 20 MB) stops here: 413


PUBLIC_URL_FILE = "public-url"  # in the data folder, written by bin/run
DEV_PUBLIC_URL = "http://localhost:5000"  # bin/run's own default address


class ConfigError(RuntimeError):
    """The environment does not describe a service that can start safely."""


def int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from error


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _read_if_exists(path: Path) -> str | None:
    return path.read_text().strip() if path.is_file() else None


def _dev_secret(data_dir: Path, name: str) -> str:
    """A secret generated on first use and kept in the data folder (dev mode only)."""
    path = data_dir / "secrets" / name.lower()
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _networks(name: str, raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated addresses or networks (``10.0.0.0/8``) as network objects."""
    try:
        return tuple(ip_network(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"{name} must list IP addresses or networks: {error}") from error


SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def _is_loopback(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


PEPPER_ID_PATTERN = re.compile(r"[A-Za-z0-9]{1,16}")


def _old_peppers(raw: str) -> dict[str, str]:
    """``OLD_PEPPERS``: ``id=value`` pairs, comma-separated, of peppers still accepted."""
    peppers = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        pepper_id, separator, value = entry.partition("=")
        if not separator or not value:
            raise ConfigError("OLD_PEPPERS must list id=value pairs separated by commas.")
        peppers[pepper_id.strip()] = value.strip()
    return peppers


class Config:
    """Settings of one running service, taken from the environment at construction."""

    def __init__(self) -> None:
        self.ENV = os.environ.get("LJ_ENV", "development")
        self.DATA_DIR = Path(os.environ.get("LJ_DATA_DIR", PROJECT_ROOT / "var"))
        self.DATABASE_URL = os.environ.get(
            "DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/learning_journals"
        )
        self.REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
        try:
            sentinel_target(self.REDIS_URL)
        except ValueError as error:
            raise ConfigError(f"REDIS_URL: {error}.") from error
        self.BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "localhost").lower()
        self.SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
        # How the connection to SMTP_HOST is protected: "starttls" (usually port 587),
        # "tls" (implicit TLS, usually 465) or "none" (only to a relay on this machine
        # in production; the development mail catcher speaks plain SMTP).
        self.SMTP_SECURITY = os.environ.get(
            "SMTP_SECURITY", "starttls" if self.is_production else "none"
        ).lower()
        if self.SMTP_SECURITY not in SMTP_DEFAULT_PORTS:
            raise ConfigError(
                f"SMTP_SECURITY must be starttls, tls or none, got {self.SMTP_SECURITY!r}."
            )
        # The development mail catcher (bin/run) listens on 8025.
        default_port = SMTP_DEFAULT_PORTS[self.SMTP_SECURITY] if self.is_production else 8025
        self.SMTP_PORT = int_setting("SMTP_PORT", default_port)
        self.SMTP_USERNAME = os.environ.get("SMTP_USERNAME", "")
        self.SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
        # A CA bundle for the SMTP server's certificate instead of the system's.
        self.SMTP_CA_FILE = os.environ.get("SMTP_CA_FILE") or None
        self._check_smtp()
        self.MAIL_FROM = os.environ.get("MAIL_FROM", "Learning Journals <no-reply@localhost>")
        self.MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", self.DATA_DIR / "media"))
        self.BACKUP_DIR = Path(os.environ.get("BACKUP_DIR", self.DATA_DIR / "backups"))
        self.ERASURE_LEDGER = Path(
            os.environ.get("ERASURE_LEDGER", self.DATA_DIR / "erasure-ledger.jsonl")
        )
        self.SESSION_IDLE_TIMEOUT = int_setting("SESSION_IDLE_TIMEOUT", 1800)
        self.SESSION_ABSOLUTE_TIMEOUT = int_setting("SESSION_ABSOLUTE_TIMEOUT", 43200)
        self.SHARED_SESSION_IDLE_TIMEOUT = int_setting("SHARED_SESSION_IDLE_TIMEOUT", 300)
        self.RESET_LINK_TTL = int_setting("RESET_LINK_TTL", 3600)
        # Seconds a person has, after password and PIN, to give their second factor (or,
        # when the setting requires one, to enrol it) before signing in again.
        self.SECOND_FACTOR_STEP_TTL = int_setting("SECOND_FACTOR_STEP_TTL", 300)
        self.ACTIVATION_LINK_TTL = int_setting("ACTIVATION_LINK_TTL", 259200)
        self.SECURE_COOKIES = _bool("SECURE_COOKIES", self.is_production)
        self.PUBLIC_URL = self._public_url()
        self.MAIL_RETRY_SECONDS = int_setting("MAIL_RETRY_SECONDS", 60)
        self.MAIL_MAX_ATTEMPTS = int_setting("MAIL_MAX_ATTEMPTS", 8)
        # In production exactly one proxy (Caddy, deploy/Caddyfile) stands in front.
        self.PROXY_HOPS = int_setting("PROXY_HOPS", 1 if self.is_production else 0)
        self.METRICS_ALLOWED_IPS = _networks(
            "METRICS_ALLOWED_IPS", os.environ.get("METRICS_ALLOWED_IPS", "127.0.0.1, ::1")
        )
        # Tests only: run Celery tasks in the calling process, as if a worker took
        # each one at once (tests/workers start real workers to prove that path).
        self.TASKS_IN_PROCESS = _bool("LJ_TASKS_IN_PROCESS", False)
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if self.is_production else "text")
        if self.LOG_FORMAT not in ("json", "text"):
            raise ConfigError(f"LOG_FORMAT must be json or text, got {self.LOG_FORMAT!r}")
        self.DB_POOL_SIZE = int_setting("DB_POOL_SIZE", 5)
        # Empty setting schemas kept built ahead of provisioning (tenants.spares); 0: none.
        self.SPARE_SCHEMAS = int_setting("SPARE_SCHEMAS", 3)
        if self.SPARE_SCHEMAS < 0:
            raise ConfigError(f"SPARE_SCHEMAS must be 0 or more, got {self.SPARE_SCHEMAS}")
        self.DB_MAX_OVERFLOW = int_setting("DB_MAX_OVERFLOW", 5)
        self.PASSWORD_BCRYPT_COST = int_setting("PASSWORD_BCRYPT_COST", 12)
        self.PIN_BCRYPT_COST = int_setting("PIN_BCRYPT_COST", 10)
        self._check_bcrypt_costs()
        # Off only to measure sign-in throughput (bench/auth.py); never in production.
        self.RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
        if self.is_production and not self.RATELIMIT_ENABLED:
            raise ConfigError(
                "RATELIMIT_ENABLED is off, but production needs the sign-in rate limits. "
                "Unset it and start again."
            )
        if self.is_production:
            self._check_production()
        self.SECRET_KEY, self.PEPPER = (self._secret(name) for name in SECRET_NAMES)
        # Encrypts backups (app.backups.crypto); production refuses to start without it.
        self.BACKUP_KEY = self._secret("BACKUP_KEY")
        # Encrypts authenticator-app secrets (app.security.sealing): a copy of the database
        # alone cannot make codes. Production refuses to start without it.
        self.TOTP_KEY = self._secret("TOTP_KEY")
        self.PEPPER_ID = os.environ.get("PEPPER_ID") or "1"
        self.OLD_PEPPERS = _old_peppers(os.environ.get("OLD_PEPPERS", ""))
        self._check_pepper_ids()

    def _public_url(self) -> str:
        """The address people reach the bare domain at; links in emails are built on it.

        ``bin/run`` sets it for the processes it starts and leaves it in the data
        folder, so a ``jobs run`` from another terminal links to the same port.
        """
        value = (
            os.environ.get("PUBLIC_URL")
            or _read_if_exists(self.DATA_DIR / PUBLIC_URL_FILE)
            or DEV_PUBLIC_URL  # production refuses to start without PUBLIC_URL
        )
        parts = urlsplit(value.strip().rstrip("/"))
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path:
            raise ConfigError(
                f"PUBLIC_URL must look like https://journals.example.org, got {value!r}"
            )
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"

    def _secret(self, name: str) -> str:
        """The secret from the environment; in development, generated once when unset
        (production never gets here without it: ``_check_production``)."""
        return os.environ.get(name) or _dev_secret(self.DATA_DIR, name)

    def _check_production(self) -> None:
        """Refuse to start production with anything left to a development default.

        Every problem is named at once, each with what to set, so an operator
        fixes the environment in one go.
        """
        problems = [
            f"{name} is not set. Production needs {meaning}."
            for name, meaning in REQUIRED_IN_PRODUCTION.items()
            if not os.environ.get(name)
        ]
        problems += [
            f"{name} is not set. In production every secret must come from the "
            f"environment: set {name} to a long random value."
            for name in SECRET_NAMES
            if not os.environ.get(name)
        ]
        if os.environ.get("PUBLIC_URL") and not self.PUBLIC_URL.startswith("https://"):
            # Emailed links carry one-time tokens: over http their first request (before
            # the proxy's redirect) would send the token in clear.
            problems.append(
                f"PUBLIC_URL must be an https:// address in production, got {self.PUBLIC_URL!r}: "
                "the links emailed to people carry one-time tokens."
            )
        if not self.SECURE_COOKIES:
            problems.append(
                "SECURE_COOKIES is off, but production is served over HTTPS only and its "
                "cookies must be Secure with a __Host- name. Unset SECURE_COOKIES."
            )
        if problems:
            raise ConfigError("Cannot start in production:\n- " + "\n- ".join(problems))

    def _check_smtp(self) -> None:
        if bool(self.SMTP_USERNAME) != bool(self.SMTP_PASSWORD):
            raise ConfigError("SMTP_USERNAME and SMTP_PASSWORD go together: set both or neither.")
        if self.SMTP_SECURITY == "none" and self.SMTP_USERNAME:
            raise ConfigError(
                "SMTP_USERNAME is set but SMTP_SECURITY is none: the password would cross the "
                "network in clear. Set SMTP_SECURITY to starttls or tls."
            )
        if self.is_production and self.SMTP_SECURITY == "none" and not _is_loopback(self.SMTP_HOST):
            raise ConfigError(
                f"SMTP_SECURITY is none, but SMTP_HOST {self.SMTP_HOST} is another machine: "
                "production sends mail over TLS (set SMTP_SECURITY to starttls or tls) or to a "
                "relay on this machine."
            )
        if self.SMTP_CA_FILE and not Path(self.SMTP_CA_FILE).is_file():
            raise ConfigError(f"SMTP_CA_FILE {self.SMTP_CA_FILE} is not a readable file.")

    def _check_pepper_ids(self) -> None:
        for pepper_id in (self.PEPPER_ID, *self.OLD_PEPPERS):
            if not PEPPER_ID_PATTERN.fullmatch(pepper_id):
                raise ConfigError(
                    f"Pepper id {pepper_id!r} (PEPPER_ID or OLD_PEPPERS) must be 1 to 16 "
                    "letters or digits."
                )
        if self.PEPPER_ID in self.OLD_PEPPERS:
            raise ConfigError(
                f"OLD_PEPPERS names pepper {self.PEPPER_ID!r}, the current PEPPER_ID: give "
                "the new pepper a new id."
            )

    def _check_bcrypt_costs(self) -> None:
        """Refuse costs bcrypt cannot use, and a weak password cost in production."""
        for name in ("PASSWORD_BCRYPT_COST", "PIN_BCRYPT_COST"):
            cost = getattr(self, name)
            if not 4 <= cost <= 31:
                raise ConfigError(f"{name} must be between 4 and 31 (bcrypt's range), got {cost}.")
        if self.is_production and self.PASSWORD_BCRYPT_COST < 12:
            raise ConfigError(
                f"PASSWORD_BCRYPT_COST is {self.PASSWORD_BCRYPT_COST}, but production needs at "
                "least 12 so that stolen password hashes stay slow to guess. Unset it or set "
                "12 or more and start again."
            )

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL with the psycopg 3 driver named, as SQLAlchemy needs it."""
        url = self.DATABASE_URL
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    def flask_settings(self) -> dict[str, object]:
        """The subset of settings Flask and its extensions read from app.config."""
        limits_uri, limits_options = limits_storage(self.REDIS_URL)
        return {
            "SECRET_KEY": self.SECRET_KEY,
            "SQLALCHEMY_DATABASE_URI": self.sqlalchemy_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "pool_size": self.DB_POOL_SIZE,
                "max_overflow": self.DB_MAX_OVERFLOW,
                # No pre-ping round trip: app.database checks a connection at checkout.
                "pool_recycle": POOL_RECYCLE_SECONDS,
                # Errors name the statement, never its values (emails, names): they are logged.
                "hide_parameters": True,
            },
            "WTF_CSRF_TIME_LIMIT": None,
            "RATELIMIT_ENABLED": self.RATELIMIT_ENABLED,
            "RATELIMIT_STORAGE_URI": limits_uri,
            "RATELIMIT_STORAGE_OPTIONS": limits_options,
            "RATELIMIT_HEADERS_ENABLED": True,
            # Several photos of up to 20 MB each (app.journal.media) in one upload.
            "MAX_CONTENT_LENGTH": MAX_REQUEST_MB * 1024 * 1024,
            "LJ": self,
        }
