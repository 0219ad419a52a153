"""Looking settings up in the registry, with a per-app snapshot of every active setting.

Every request resolves its host through ``active_setting_by_slug``. The
snapshot of all active settings is checked when it is older than
``CACHE_SECONDS``: one row, ``public.registry_version``, whose token a trigger
changes with every change to ``settings``; only a new token reloads every
setting. So traffic spread over many settings (or guessed subdomains) costs no
query per request, and the check costs the same with 10 settings or 10,000.
Changes made in this process (suspend, resume, create) drop it at once; changes
made by another process (the operator's CLI) are seen within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import time
from threading import Lock

from flask import Flask, current_app
from sqlalchemy import Connection, select, text

from app.extensions import db
from tenants.binding import BoundSetting
from tenants.models import Setting, SettingStatus

CACHE_SECONDS = 2.0
_EXTENSION = "lj_settings_snapshot"


_REGISTRY_TOKEN = text("SELECT token FROM public.registry_version")


def _registry_token(connection: Connection) -> object:
    return connection.execute(_REGISTRY_TOKEN).scalar_one()


def _load_all_active(connection: Connection) -> dict[str, BoundSetting]:
    rows = connection.execute(
        select(
            Setting.id,
            Setting.slug,
            Setting.name,
            Setting.schema_name,
            Setting.logo_file,
            Setting.time_zone,
            Setting.usage_policy_version,
            Setting.group_names,
        ).where(Setting.status == SettingStatus.ACTIVE)
    ).all()
    return {row.slug: BoundSetting(**row._asdict()) for row in rows}


class SettingsSnapshot:
    """Every active setting by slug, as one app last read them from its database."""

    def __init__(self) -> None:
        self._checked_at = float("-inf")
        self._token: object = None  # the registry's token when the settings were read
        self._settings: dict[str, BoundSetting] = {}
        self._lock = Lock()

    def fresh(self) -> dict[str, BoundSetting]:
        if time.monotonic() - self._checked_at < CACHE_SECONDS:
            return self._settings
        with self._lock:  # one thread checks; the others wait and use its result
            if time.monotonic() - self._checked_at >= CACHE_SECONDS:
                started = time.monotonic()
                self._check()
                self._checked_at = started
        return self._settings

    def _check(self) -> None:
        # Its own connection and transaction: the lookup must not open the ORM
        # session's transaction before the setting's schema is bound.
        with db.engine.connect() as connection:
            # The token first: a change committed between the two reads then leaves
            # the old token held, and the next check reads the settings again.
            token = _registry_token(connection)
            if token != self._token:
                self._settings = _load_all_active(connection)
                self._token = token

    def forget(self) -> None:
        with self._lock:
            self._checked_at = float("-inf")
            self._token = None


def install_settings_snapshot(app: Flask) -> None:
    app.extensions[_EXTENSION] = SettingsSnapshot()


def _snapshot() -> SettingsSnapshot:
    return current_app.extensions[_EXTENSION]


def active_setting_by_slug(slug: str) -> BoundSetting | None:
    """The active setting with this slug, or None (unknown or suspended)."""
    return _snapshot().fresh().get(slug)


def forget_cached() -> None:
    """Reload the snapshot on the next lookup (after any change to the registry)."""
    _snapshot().forget()


def all_settings() -> list[Setting]:
    return list(db.session.scalars(select(Setting).order_by(Setting.slug)))


def setting_by_slug(slug: str) -> Setting | None:
    return db.session.scalar(select(Setting).where(Setting.slug == slug))


def set_status(slug: str, status: SettingStatus) -> Setting:
    """Suspend or resume a setting; flushes, the caller commits and then calls
    ``forget_cached()`` so this process sees the change at once."""
    setting = setting_by_slug(slug)
    if setting is None or setting.status is SettingStatus.DELETED:
        raise LookupError(f"no setting '{slug}'")  # a deleted setting never comes back
    setting.status = status
    db.session.flush()
    return setting
