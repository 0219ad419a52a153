"""Looking settings up in the registry, with a per-process snapshot of every active setting.

Every request resolves its host through ``active_setting_by_slug``. The
snapshot of all active settings is reloaded with one query when it is older
than ``CACHE_SECONDS``, so traffic spread over many settings (or guessed
subdomains) costs no query per request. Changes made in this process
(suspend, resume, create) drop it at once; changes made by another process
(the operator's CLI) are seen within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import time
from threading import Lock

from sqlalchemy import select

from app.extensions import db
from tenants.binding import BoundSetting
from tenants.models import Setting, SettingStatus

CACHE_SECONDS = 2.0

_snapshot: tuple[float, dict[str, BoundSetting]] = (float("-inf"), {})
_reload_lock = Lock()


def _load_all_active() -> dict[str, BoundSetting]:
    # Its own connection and transaction: the lookup must not open the ORM
    # session's transaction before the setting's schema is bound.
    with db.engine.connect() as connection:
        rows = connection.execute(
            select(
                Setting.id, Setting.slug, Setting.name, Setting.schema_name, Setting.logo_file
            ).where(Setting.status == SettingStatus.ACTIVE)
        ).all()
    return {row.slug: BoundSetting(**row._asdict()) for row in rows}


def _fresh_snapshot() -> dict[str, BoundSetting]:
    global _snapshot
    loaded_at, settings = _snapshot
    if time.monotonic() - loaded_at < CACHE_SECONDS:
        return settings
    with _reload_lock:  # one thread reloads; the others wait and use its result
        loaded_at, settings = _snapshot
        if time.monotonic() - loaded_at >= CACHE_SECONDS:
            started = time.monotonic()
            settings = _load_all_active()
            _snapshot = (started, settings)
    return settings


def active_setting_by_slug(slug: str) -> BoundSetting | None:
    """The active setting with this slug, or None (unknown or suspended)."""
    return _fresh_snapshot().get(slug)


def forget_cached() -> None:
    """Reload the snapshot on the next lookup (after any change to the registry)."""
    global _snapshot
    with _reload_lock:
        _snapshot = (float("-inf"), {})


def all_settings() -> list[Setting]:
    return list(db.session.scalars(select(Setting).order_by(Setting.slug)))


def setting_by_slug(slug: str) -> Setting | None:
    return db.session.scalar(select(Setting).where(Setting.slug == slug))


def set_status(slug: str, status: SettingStatus) -> Setting:
    """Suspend or resume a setting; flushes, the caller commits and then calls
    ``forget_cached()`` so this process sees the change at once."""
    setting = setting_by_slug(slug)
    if setting is None:
        raise LookupError(f"no setting '{slug}'")
    setting.status = status
    db.session.flush()
    return setting
