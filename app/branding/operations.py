"""The setting's name and logo, as families see them on every page, and its time zone."""

from __future__ import annotations

from zoneinfo import available_timezones

from app.extensions import db
from app.journal import storage
from app.journal.media import process_upload
from app.validation import InvalidInput, clean_name
from tenants.binding import current_setting
from tenants.models import Setting

# A logo is shown small in the header: the 480-pixel rendition is plenty.
LOGO_MAX_BYTES = 5 * 1024 * 1024


def current_setting_row() -> Setting:
    return db.session.get_one(Setting, current_setting().id)


def rename_setting(name: str) -> Setting:
    """Change the display name; flushes."""
    setting = current_setting_row()
    setting.name = clean_name(name, field="Setting name")
    db.session.flush()
    return setting


def set_time_zone(name: str) -> Setting:
    """Show the setting's times in the IANA zone ``name`` (e.g. Europe/London); flushes."""
    if name not in available_timezones():
        raise InvalidInput("Choose the time zone from the list.")
    setting = current_setting_row()
    setting.time_zone = name
    db.session.flush()
    return setting


def replace_logo(upload: bytes) -> Setting:
    """Store a new logo (checked and re-encoded like any photo); the old file goes after commit.

    Raises ``MediaRejected`` for anything that is not a usable image.
    """
    processed = process_upload(upload, max_bytes=LOGO_MAX_BYTES)
    setting = current_setting_row()
    old = setting.logo_file
    setting.logo_file = storage.store(processed.thumbnail, processed.extension)
    if old:
        storage.remove_after_commit(old)
    db.session.flush()
    return setting


def remove_logo() -> Setting:
    setting = current_setting_row()
    if setting.logo_file:
        storage.remove_after_commit(setting.logo_file)
        setting.logo_file = None
        db.session.flush()
    return setting
