"""Times as people at the setting read them: in the setting's time zone.

Every time is stored in UTC; pages show it in the setting's zone (Europe/London unless
its manager chose another), and name the zone where a time alone could mislead.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from tenants.binding import current_setting_or_none

DEFAULT_TIME_ZONE = "Europe/London"


def setting_zone() -> ZoneInfo:
    """The current setting's time zone (the default outside a setting)."""
    setting = current_setting_or_none()
    return ZoneInfo(getattr(setting, "time_zone", None) or DEFAULT_TIME_ZONE)


def local_time(moment: datetime | None, with_zone: bool = False, seconds: bool = False) -> str:
    """``moment`` in the setting's zone, as "2 Dec 2026 14:05" (with "GMT"/"BST" if asked,
    and ":07" seconds for logs)."""
    if moment is None:
        return ""
    local = moment.astimezone(setting_zone())
    shown = f"{local:%-d %b %Y %H:%M:%S}" if seconds else f"{local:%-d %b %Y %H:%M}"
    return f"{shown} {local:%Z}" if with_zone else shown


def local_date(moment: datetime | None) -> str:
    """The day ``moment`` falls on in the setting's zone, as "2 December 2026"."""
    return "" if moment is None else f"{moment.astimezone(setting_zone()):%-d %B %Y}"


def register_time_filters(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
