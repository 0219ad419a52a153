"""Looking settings up in the registry, with a small per-process cache.

Every request resolves its host through ``active_setting_by_slug``. Entries
live for ``CACHE_SECONDS``; changes made in this process (suspend, resume)
drop them at once, changes made by another process (the operator's CLI) are
seen within that time.
"""

from __future__ import annotations

import time
from threading import Lock

from sqlalchemy import select

from app.extensions import db
from tenants.binding import BoundSetting
from tenants.models import Setting, SettingStatus

CACHE_SECONDS = 2.0

_cache: dict[str, tuple[float, BoundSetting | None]] = {}
_cache_lock = Lock()


def _load_active(slug: str) -> BoundSetting | None:
    # Its own connection and transaction: the lookup must not open the ORM
    # session's transaction before the setting's schema is bound.
    with db.engine.connect() as connection:
        row = connection.execute(
            select(
                Setting.id, Setting.slug, Setting.name, Setting.schema_name, Setting.logo_file
            ).where(Setting.slug == slug, Setting.status == SettingStatus.ACTIVE)
        ).one_or_none()
    if row is None:
        return None
    return BoundSetting(**row._asdict())


def active_setting_by_slug(slug: str) -> BoundSetting | None:
    """The active setting with this slug, or None (unknown or suspended)."""
    now = time.monotonic()
    cached = _cache.get(slug)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    setting = _load_active(slug)
    with _cache_lock:
        _cache[slug] = (now, setting)
    return setting


def forget_cached(slug: str | None = None) -> None:
    """Drop cached lookups (one slug, or all)."""
    with _cache_lock:
        if slug is None:
            _cache.clear()
        else:
            _cache.pop(slug, None)


def all_settings() -> list[Setting]:
    return list(db.session.scalars(select(Setting).order_by(Setting.slug)))


def setting_by_slug(slug: str) -> Setting | None:
    return db.session.scalar(select(Setting).where(Setting.slug == slug))


def set_status(slug: str, status: SettingStatus) -> Setting:
    """Suspend or resume a setting; flushes, the caller commits and then calls
    ``forget_cached(slug)`` so this process sees the change at once."""
    setting = setting_by_slug(slug)
    if setting is None:
        raise LookupError(f"no setting '{slug}'")
    setting.status = status
    db.session.flush()
    return setting
